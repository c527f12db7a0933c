"""Which leftovers of dead runs may be deleted: only records that are still what was written.

A state file can be corrupted, restored from a backup, copied between hosts, or forged. An id
in it is no proof that the record is ours, and the API deletes whatever id it is given. So
before a leftover is deleted, the API must show a TXT record with that id, at that name, with
that value. One list of a zone's records covers every leftover in the zone; an id the list
does not show is asked about once (gone: the entry is done with), unless its removal was
already accepted: then the list's word is enough. Any other record is never
deleted: its entry is dropped, with a warning that says why.

Entries noted before their POST was answered carry no id yet; they are looked up by their
value, which only that POST can have written (`core.run.ChallengeRun._answered`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..api.client import VariomediaClient
from ..api.models import DNSRecord
from ..errors import NotFoundError, VariomediaError
from .state import UNANSWERED, StoredRecord


@dataclass
class Verdict:
    """What the API says about a set of leftovers."""

    ours: list[StoredRecord] = field(default_factory=list)  # still what was written: delete
    foreign: list[tuple[StoredRecord, str]] = field(default_factory=list)  # never delete
    gone: list[StoredRecord] = field(default_factory=list)  # no such record any more
    unchecked: list[tuple[StoredRecord, str]] = field(default_factory=list)  # API failed


def check(client: VariomediaClient, entries: Sequence[StoredRecord]) -> Verdict:
    """Sort `entries` by what the API shows under their ids (one list request per zone)."""
    verdict = Verdict()
    zones: dict[str, list[StoredRecord]] = {}
    for entry in entries:
        if entry.record_id.startswith(UNANSWERED):
            verdict.ours.append(entry)
        else:
            zones.setdefault(entry.zone, []).append(entry)
    for zone, items in zones.items():
        try:
            listed = {r.id: r for r in client.list_records(domains=[zone])}
        except VariomediaError as e:
            verdict.unchecked.extend((entry, str(e)) for entry in items)
            continue
        for entry in items:
            if entry.deleting and entry.record_id not in listed:
                # Its removal was accepted and the zone no longer lists it: it went through.
                verdict.gone.append(entry)
                continue
            try:
                record = listed.get(entry.record_id) or client.get_record(entry.record_id)
            except NotFoundError:
                verdict.gone.append(entry)
                continue
            except VariomediaError as e:
                verdict.unchecked.append((entry, str(e)))
                continue
            why = mismatch(record, entry)
            if why is None:
                verdict.ours.append(entry)
            else:
                verdict.foreign.append((entry, why))
    return verdict


def mismatch(record: DNSRecord, entry: StoredRecord) -> str | None:
    """Why `record` is not the one `entry` says was written (``None``: it is)."""
    if record.record_type != "TXT":
        return f"the API shows it as type {record.record_type or '(none)'}, at {record.fqdn}"
    if record.fqdn != entry.fqdn.lower():
        return f"the API shows it at {record.fqdn}, not at {entry.fqdn}"
    if record.data != entry.value:
        return f"the TXT record at {record.fqdn} holds another value than the one written"
    return None
