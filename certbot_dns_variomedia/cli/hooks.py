"""certbot's manual hooks: ``variomedia-dns certbot-auth`` and ``variomedia-dns certbot-cleanup``.

For a certbot that cannot load the plugin (snap, distribution packages)::

    certbot certonly --manual --preferred-challenges dns \\
        --manual-auth-hook 'variomedia-dns certbot-auth' \\
        --manual-cleanup-hook 'variomedia-dns certbot-cleanup' -d example.de -d '*.example.de'

certbot runs the auth hook once per challenge, one after the other, and answers the challenges
once the last call returns. So every call writes its record at once (through the same
`core.run.ChallengeRun` as the plugin, id saved in the state file, marked with this certbot
run's batch), and only the last call (``CERTBOT_REMAINING_CHALLENGES=0``) waits — for every
record of the batch, jobs and DNS, once: an apex + wildcard order costs one wait, not two.

The cleanup hook removes exactly the record of its challenge, by the id the auth call saved. As
in the plugin, the delete job is not waited for (certbot finalizes the order only after cleanup):
a removal still queued stays in the state file, and the next run confirms it in DNS for free.
Progress goes to stdout: certbot shows a hook's stdout as output, but its stderr as a warning.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ..core.run import ChallengeRun
from ..core.state import StateFile, StoredRecord
from ..core.zones import CHALLENGE_LABEL, identifier_name
from .hook_owner import hook_owner
from .options import (
    UsageError,
    add_challenge_options,
    add_credentials_option,
    add_nameservers_option,
    add_state_file_option,
    challenge_settings,
    load_credentials,
    nameservers,
    state_file,
)
from .output import say

logger = logging.getLogger(__name__)

ENV_DOMAIN = "CERTBOT_DOMAIN"
ENV_VALIDATION = "CERTBOT_VALIDATION"
ENV_REMAINING = "CERTBOT_REMAINING_CHALLENGES"

Say = Callable[[str], None]


@dataclass(frozen=True)
class HookCall:
    """What certbot tells a hook call through its environment."""

    domain: str
    validation: str
    remaining: int  # challenges after this one; 0: the last call of the batch

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HookCall:
        missing = [v for v in (ENV_DOMAIN, ENV_VALIDATION) if not environ.get(v, "").strip()]
        if missing:
            raise UsageError(
                f"{' and '.join(missing)} not set: this command is run by certbot, as "
                "--manual-auth-hook 'variomedia-dns certbot-auth' and --manual-cleanup-hook "
                "'variomedia-dns certbot-cleanup'."
            )
        # Without the count (an older or another ACME client) every call is its own batch.
        text = environ.get(ENV_REMAINING, "").strip() or "0"
        if not text.isdigit():
            raise UsageError(f"{ENV_REMAINING} must be a number of challenges; it is {text!r}.")
        return cls(environ[ENV_DOMAIN].strip(), environ[ENV_VALIDATION].strip(), int(text))


def batch_of(owner: str) -> str:
    """The batch marker of the records one certbot process writes through the hooks."""
    return f"certbot-hooks:{owner}"


def authenticate(run: ChallengeRun, call: HookCall, *, say: Say = say) -> None:
    """Write this challenge's record; on the last call, wait for the whole batch once."""
    run.sweep()
    batch = batch_of(run.owner)
    placement = run.plan([call.domain])[0]
    run.present([(placement, call.validation)], batch=batch)
    if call.remaining > 0:
        say(
            f"TXT record for {call.domain} written; {call.remaining} more challenge(s) to "
            "come, the last one waits for all."
        )
        return
    records = [
        r
        for r in run.state.records()
        if r.account == run.account and r.batch == batch and not r.deleting
    ]
    try:
        run.wait(records)
    finally:
        # Waited for (or failed): the next order of this certbot process starts a new batch.
        _clear_batch(run.state, batch)
    status = run.last_status
    servers = f"all {len(status.servers)} name servers" if status else "every name server"
    took = f" after {status.elapsed:.1f} s" if status else ""
    say(f"All {len(records)} TXT record(s) of this order are visible on {servers}{took}.")


def _clear_batch(state: StateFile, batch: str) -> None:
    with state.edit() as entries:
        for i, entry in enumerate(entries):
            if entry.batch == batch:
                entries[i] = replace(entry, batch=None)


def records_of(run: ChallengeRun, call: HookCall) -> list[StoredRecord]:
    """The state entries of this challenge: this account's records with its validation value.

    The value is the digest of a random token of this one challenge and the ACME account key,
    so no other challenge has it; of the entries carrying it, those at
    ``_acme-challenge.<domain>`` are preferred, and any other is a CNAME-delegated record.
    """
    challenge_name = f"{CHALLENGE_LABEL}.{identifier_name(call.domain)}"
    found = [
        r for r in run.state.records() if r.account == run.account and r.value == call.validation
    ]
    return [r for r in found if r.fqdn == challenge_name] or found


def clean_up(run: ChallengeRun, call: HookCall, *, say: Say = say) -> list[str]:
    """Remove this challenge's record by id. Returns the problems (never raises for a record
    that cannot be removed: it stays in the state file and the next run removes it)."""
    mine = records_of(run, call)
    if not mine:
        say(
            f"No record of this account for {call.domain} with this validation in "
            f"{run.state.path}: nothing to remove."
        )
        return []
    problems = run.remove(mine)
    if not problems:
        ids = ", ".join(r.record_id for r in mine)
        say(f"Removed the TXT record for {call.domain} (record {ids}).")
    return problems


# -- the subcommands --------------------------------------------------------------------------


def _hook_run(args: argparse.Namespace) -> ChallengeRun:
    """The core run of one hook call, owned by the certbot process that runs the hooks."""
    settings = challenge_settings(args, nameservers(args))
    return ChallengeRun.open(
        load_credentials(args), state_file(args), settings, notify=say, owner=hook_owner()
    )


def cmd_auth(args: argparse.Namespace) -> int:
    call = HookCall.from_environ(os.environ)
    with _hook_run(args) as run:
        authenticate(run, call)
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    call = HookCall.from_environ(os.environ)
    with _hook_run(args) as run:
        problems = clean_up(run, call)
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
        help="certbot --manual-auth-hook: write the challenge record (the last call waits)",
        description=f"certbot's --manual-auth-hook. Reads {env}. Writes the TXT record of one "
        "challenge; the last call of an order waits until every authoritative name server "
        "shows every record of the order.",
    )
    cleanup = subparsers.add_parser(
        "certbot-cleanup",
        parents=[common],
        help="certbot --manual-cleanup-hook: remove the challenge record",
        description=f"certbot's --manual-cleanup-hook. Reads {env}. Removes exactly the "
        "record the auth hook wrote for this challenge, by its id in the state file.",
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
