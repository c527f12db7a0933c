"""What the last manual-hook call of a certbot order does: the plugin's path, for the whole order.

`hooks` imports this module only in the calls that talk to the API and to DNS; the calls that
only note a challenge must not load the HTTP and DNS libraries.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..core.run import ChallengeRun
from ..core.state import StoredRecord
from ..core.zones import CHALLENGE_LABEL, identifier_name
from .options import challenge_settings, load_credentials, nameservers, state_file
from .output import say


def open_run(args: argparse.Namespace, owner: str) -> ChallengeRun:
    """The core run of one hook call, owned by the certbot process that runs the hooks."""
    settings = challenge_settings(args, nameservers(args))
    return ChallengeRun.open(
        load_credentials(args), state_file(args), settings, notify=say, owner=owner
    )


def authenticate(
    run: ChallengeRun, challenges: Sequence[tuple[str, str]], *, batch: str | None
) -> None:
    """Write the records of every (domain, validation) of the order, then wait until every
    authoritative name server shows them all; `batch` marks them for the last cleanup call."""
    run.sweep()
    placements = run.plan([domain for domain, _ in challenges])
    values = [value for _, value in challenges]
    run.present(list(zip(placements, values, strict=True)), batch=batch)
    run.wait()


def records_of(run: ChallengeRun, domain: str, validation: str) -> list[StoredRecord]:
    """The state entries of one challenge: this account's records with its validation value.

    The value is the digest of a random token of this one challenge and the ACME account key,
    so no other challenge has it; of the entries carrying it, those at
    ``_acme-challenge.<domain>`` are preferred, and any other is a CNAME-delegated record.
    """
    challenge_name = f"{CHALLENGE_LABEL}.{identifier_name(domain)}"
    found = [r for r in run.state.records() if r.account == run.account and r.value == validation]
    return [r for r in found if r.fqdn == challenge_name] or found


def clean_up(run: ChallengeRun, domain: str, validation: str, *, batch: str | None) -> list[str]:
    """Remove this challenge's records and, with `batch`, every other record of the order, by
    id. Returns the problems (never raises for a record that cannot be removed: it stays in the
    state file and the next run removes it)."""
    mine = records_of(run, domain, validation)
    if batch is not None:
        ids = {r.record_id for r in mine}
        mine += [
            r
            for r in run.state.records()
            if r.account == run.account and r.batch == batch and not r.deleting
            and r.record_id not in ids
        ]  # fmt: skip
    if not mine:
        say(
            f"No record of this account for {domain} with this validation in "
            f"{run.state.path}: nothing to remove."
        )
        return []
    return run.remove(mine)
