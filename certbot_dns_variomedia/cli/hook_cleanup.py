"""What the last cleanup call of a certbot order does: remove the order's records, by id.

Only deletes, so it loads the API client and the state file, not the DNS library
(`core.removal`): every library a hook process loads is time certbot's order waits for.
"""

from __future__ import annotations

import argparse

from ..api.client import VariomediaClient
from ..core import removal
from ..core.state import StateFile, StoredRecord
from ..names import CHALLENGE_LABEL, identifier_name
from .options import load_credentials, state_file
from .output import say


def records_of(state: StateFile, account: str, domain: str, validation: str) -> list[StoredRecord]:
    """The state entries of one challenge: this account's records with its validation value.

    The value is the digest of a random token of this one challenge and the ACME account key,
    so no other challenge has it; of the entries carrying it, those at
    ``_acme-challenge.<domain>`` are preferred, and any other is a CNAME-delegated record.
    """
    challenge_name = f"{CHALLENGE_LABEL}.{identifier_name(domain)}"
    found = [r for r in state.records() if r.account == account and r.value == validation]
    return [r for r in found if r.fqdn == challenge_name] or found


def clean_up(
    args: argparse.Namespace, domain: str, validation: str, *, batch: str | None
) -> list[str]:
    """Remove this challenge's records and, with `batch`, every other record of the order, by
    id. Returns the problems (never raises for a record that cannot be removed: it stays in the
    state file and the next run removes it)."""
    state = state_file(args)
    with VariomediaClient.from_credentials(load_credentials(args)) as client:
        return _clean_up(client, state, domain, validation, batch=batch)


def _clean_up(
    client: VariomediaClient, state: StateFile, domain: str, validation: str, *, batch: str | None
) -> list[str]:
    account = client.account_key
    mine = records_of(state, account, domain, validation)
    if batch is not None:
        ids = {r.record_id for r in mine}
        mine += [
            r
            for r in state.records()
            if r.account == account and r.batch == batch and not r.deleting
            and r.record_id not in ids
        ]  # fmt: skip
    if not mine:
        say(
            f"No record of this account for {domain} with this validation in "
            f"{state.path}: nothing to remove."
        )
        return []
    return removal.remove(client, state, mine)
