"""certbot's manual hooks: ``variomedia-dns certbot-auth`` and ``variomedia-dns certbot-cleanup``.

For a certbot that cannot load the plugin (snap, distribution packages)::

    certbot certonly --manual --preferred-challenges dns \\
        --manual-auth-hook 'variomedia-dns certbot-auth' \\
        --manual-cleanup-hook 'variomedia-dns certbot-cleanup' -d example.de -d '*.example.de'

certbot runs the auth hook once per challenge, one process after the other, and answers the
challenges once the last call has returned; once every challenge is done it runs the cleanup
hook the same way. So the calls before the last only note their challenge with the order in the
state file (`core.state.HookOrder`): no request, no DNS, not even the HTTP and DNS libraries
loaded. The last call (``CERTBOT_REMAINING_CHALLENGES=0``) takes the whole order the plugin's way
in one process (`hook_order`): the domain list once, at most one PATCH per domain, one POST per
challenge, one wait for all. Likewise only the last cleanup call removes the order's records, one
DELETE each. An order costs what the plugin's costs.

A noted order is bound to one certbot run: a call continues it only if it comes from the same
certbot process (pid and start time, `hook_owner`) with one challenge less to go. It is gone once
the order's last call took it, a cleanup call ran, or that certbot process ended. Without
``CERTBOT_REMAINING_CHALLENGES`` (another ACME client) every call is an order of its own.

As in the plugin, the delete jobs are not waited for (certbot finalizes the order only after
cleanup): a removal still queued stays in the state file, and the next run confirms it in DNS
for free. Progress goes to stdout: certbot shows a hook's stdout as output, its stderr as a
warning.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..core.state import HookOrder, StateFile, owner_alive
from .hook_owner import hook_owner
from .options import (
    UsageError,
    add_challenge_options,
    add_credentials_option,
    add_nameservers_option,
    add_state_file_option,
    state_file,
)
from .output import say

logger = logging.getLogger(__name__)

ENV_DOMAIN = "CERTBOT_DOMAIN"
ENV_VALIDATION = "CERTBOT_VALIDATION"
ENV_REMAINING = "CERTBOT_REMAINING_CHALLENGES"


@dataclass(frozen=True)
class HookCall:
    """What certbot tells a hook call through its environment."""

    domain: str
    validation: str
    remaining: int  # challenges after this one; 0: the last call of the order
    counted: bool = True  # whether the caller said how many remain (certbot does)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HookCall:
        missing = [v for v in (ENV_DOMAIN, ENV_VALIDATION) if not environ.get(v, "").strip()]
        if missing:
            raise UsageError(
                f"{' and '.join(missing)} not set: this command is run by certbot, as "
                "--manual-auth-hook 'variomedia-dns certbot-auth' and --manual-cleanup-hook "
                "'variomedia-dns certbot-cleanup'."
            )
        # Without the count (an older or another ACME client) every call is an order of its own.
        text = environ.get(ENV_REMAINING, "").strip()
        if text and not text.isdigit():
            raise UsageError(f"{ENV_REMAINING} must be a number of challenges; it is {text!r}.")
        domain, validation = environ[ENV_DOMAIN].strip(), environ[ENV_VALIDATION].strip()
        return cls(domain, validation, int(text or "0"), counted=bool(text))


def batch_of(owner: str) -> str:
    """The batch marker of the records one certbot process writes through the hooks."""
    return f"certbot-hooks:{owner}"


def note(state: StateFile, owner: str, call: HookCall) -> list[tuple[str, str]]:
    """Add this call's challenge to its order; the order's challenges so far, this one last.

    The order stays in the state file while challenges remain; the last call takes it out.
    Orders of certbot processes that have ended are dropped on the way.
    """
    with state.edit_orders() as orders:
        earlier = [o for o in orders if o.owner == owner]
        orders[:] = [o for o in orders if o.owner != owner and owner_alive(o.owner)]
        # certbot counts down by one per call; anything else is another order of this process.
        continues = call.counted and earlier and earlier[0].remaining == call.remaining + 1
        challenges = [*(earlier[0].challenges if continues else []), (call.domain, call.validation)]
        if call.remaining > 0:
            orders.append(HookOrder(owner, call.remaining, challenges))
    return challenges


def end_order(state: StateFile, owner: str) -> None:
    """Cleanup has begun: nothing noted by this certbot process may serve another order."""
    with state.edit_orders() as orders:
        orders[:] = [o for o in orders if o.owner != owner]


# -- the subcommands --------------------------------------------------------------------------


def cmd_auth(args: argparse.Namespace) -> int:
    call = HookCall.from_environ(os.environ)
    owner = hook_owner()
    challenges = note(state_file(args), owner, call)
    if call.remaining > 0:
        say(
            f"Challenge for {call.domain} noted; {call.remaining} more to come. The last call "
            "writes every record of the order and waits until all are visible."
        )
        return 0
    # Only the call that talks to the API and to DNS loads what that takes.
    from .hook_order import authenticate, open_run  # noqa: PLC0415

    with open_run(args, owner) as run:
        authenticate(run, challenges, batch=batch_of(owner) if call.counted else None)
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    call = HookCall.from_environ(os.environ)
    if call.remaining > 0:  # cli.main returns before even parsing for these
        return 0  # the order's last cleanup call removes every record of it
    owner = hook_owner()
    end_order(state_file(args), owner)
    from .hook_order import clean_up, open_run  # noqa: PLC0415

    with open_run(args, owner) as run:
        problems = clean_up(
            run, call.domain, call.validation, batch=batch_of(owner) if call.counted else None
        )
    for problem in problems:
        logger.warning("Could not remove a challenge record: %s. The next run removes it.", problem)
    return 0


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    env = f"${ENV_DOMAIN}, ${ENV_VALIDATION} and ${ENV_REMAINING}"
    auth = subparsers.add_parser(
        "certbot-auth",
        parents=[common],
        help="certbot --manual-auth-hook: write the order's records (the last call)",
        description=f"certbot's --manual-auth-hook. Reads {env}. Every call notes its "
        "challenge; the last call of an order writes the TXT records of all of them and waits "
        "until every authoritative name server shows every record of the order.",
    )
    cleanup = subparsers.add_parser(
        "certbot-cleanup",
        parents=[common],
        help="certbot --manual-cleanup-hook: remove the order's records (the last call)",
        description=f"certbot's --manual-cleanup-hook. Reads {env}. The last call of an order "
        "removes exactly the records its auth calls wrote, by their ids in the state file.",
    )
    for parser in (auth, cleanup):
        add_credentials_option(parser)
        add_state_file_option(parser)
        add_nameservers_option(parser)
        # The same options for both, so one option list can be copied into both hooks.
        add_challenge_options(parser)
        parser.set_defaults(log_to_stdout=True)
    auth.set_defaults(func=cmd_auth)
    cleanup.set_defaults(func=cmd_cleanup)
