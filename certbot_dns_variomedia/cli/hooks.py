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

from .hook_notes import (
    ENV_DOMAIN,
    ENV_REMAINING,
    ENV_VALIDATION,
    HookCall,
    batch_of,
    end_order,
    note,
    noted,
)
from .hook_owner import hook_owner
from .options import (
    add_challenge_options,
    add_credentials_option,
    add_nameservers_option,
    add_state_file_option,
    state_file,
)
from .output import say

logger = logging.getLogger(__name__)

# -- the subcommands --------------------------------------------------------------------------


def cmd_auth(args: argparse.Namespace) -> int:
    call = HookCall.from_environ(os.environ)
    owner = hook_owner()
    challenges = note(state_file(args), owner, call)
    if call.remaining > 0:  # cli.main serves these before parsing (`hook_notes.before_the_last`)
        say(noted(call))
        return 0
    # Only the call that talks to the API and to DNS loads what that takes.
    from .hook_order import authenticate, open_run  # noqa: PLC0415

    with open_run(args, owner) as run:
        authenticate(run, challenges, batch=batch_of(owner) if call.counted else None)
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    call = HookCall.from_environ(os.environ)
    if call.remaining > 0:  # cli.main serves these before parsing (`hook_notes.before_the_last`)
        return 0  # the order's last cleanup call removes every record of it
    owner = hook_owner()
    end_order(state_file(args), owner)
    from .hook_cleanup import clean_up  # noqa: PLC0415

    batch = batch_of(owner) if call.counted else None
    problems = clean_up(args, call.domain, call.validation, batch=batch)
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
