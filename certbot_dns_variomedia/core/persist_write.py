"""Set and remove dns-persist-01 records through the Variomedia API.

Setting takes the path of a challenge record (`core.run.ChallengeRun`): the names are placed
before anything is written (a name outside the account gets dns-01's errors), the update lock
goes on first, each id is noted in the state file before its POST, and the run waits until every
authoritative name server shows every record. Only then does the record leave the state file
(`ChallengeRun.keep`) to stand; a set that fails or is interrupted before that removes what it
wrote, now or in the next run's sweep, so no half-set record is left.

Records of other CAs and other accounts are never touched. This account's older record at the
same CA is replaced only when asked, and then the new one is seen everywhere before the old one
is deleted, so the account is never without its authorization.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..api.models import DNSRecord
from ..errors import ConfigurationError, VariomediaError
from ..names import to_unicode
from .persist import PERSIST_LABEL, MalformedRecord, PersistRecord, parse
from .run import ChallengeRun
from .state import StoredRecord
from .zones import Placement

Action = Literal["created", "unchanged", "replaced"]


class PersistConflict(ConfigurationError):
    """This account already has a different record at this CA, and replacing was not asked."""


@dataclass(frozen=True)
class SetResult:
    """What `set_records` did at one record name."""

    placement: Placement
    record: PersistRecord
    action: Action
    old: tuple[DNSRecord, ...] = ()  # this account's records at this CA that were replaced


@dataclass(frozen=True)
class Removed:
    """A record `remove_records` deleted (its removal may still be queued at Variomedia)."""

    record: DNSRecord
    queued: bool


def _standing(run: ChallengeRun, placements: Sequence[Placement]) -> dict[str, list[DNSRecord]]:
    """The TXT records at each placement's name: one list request per zone."""
    zones = sorted({p.zone for p in placements})
    found: dict[str, list[DNSRecord]] = {p.fqdn: [] for p in placements}
    for record in run.client.list_records(domains=zones):
        if record.record_type == "TXT" and record.fqdn in found:
            found[record.fqdn].append(record)
    return found


def _parsed(record: DNSRecord) -> PersistRecord | None:
    try:
        return parse(record.data)
    except MalformedRecord:
        return None  # not a record this project can speak for: leave it alone


def _same(a: PersistRecord, b: PersistRecord | None) -> bool:
    return b is not None and a == b


def set_records(
    run: ChallengeRun, wanted: Mapping[str, PersistRecord], *, replace: bool = False
) -> list[SetResult]:
    """Make `wanted` (identifier → record) stand on every authoritative name server.

    A record that stands already is left as it is (and waited for like the new ones). Raises
    `PersistConflict` before any write when this account has a different record at the same
    CA and `replace` is false.
    """
    identifiers = list(wanted)
    placements = run.plan(identifiers, label=PERSIST_LABEL)
    standing = _standing(run, placements)
    results: list[SetResult] = []
    conflicts: list[str] = []
    for identifier, placement in zip(identifiers, placements, strict=True):
        record = wanted[identifier]
        here = [(r, _parsed(r)) for r in standing[placement.fqdn]]
        if any(_same(record, p) for _, p in here):
            results.append(SetResult(placement, record, "unchanged"))
            continue
        old = tuple(
            r
            for r, p in here
            if p is not None and p.same_authorization(record.issuer, record.account_uri)
        )
        if old and not replace:
            shown = "; ".join(f'"{r.data}"' for r in old)
            conflicts.append(f"{to_unicode(placement.fqdn)} has {shown}")
        results.append(SetResult(placement, record, "replaced" if old else "created", old))
    if conflicts:
        raise PersistConflict(
            "This account already has a different record for this CA: "
            + "; ".join(conflicts)
            + ". Nothing was written. To replace it, add --replace."
        )
    _write_and_wait(run, results)
    problems = []
    for result in results:
        for stale in result.old:
            try:
                run.client.delete_record(stale.id)
            except VariomediaError as e:
                problems.append(f"record {stale.id} at {stale.fqdn}: {str(e).rstrip('.')}")
    if problems:
        raise VariomediaError(
            "The new record stands on every name server, but removing the old one failed: "
            + "; ".join(problems)
            + ". Both authorize the account; remove the old one with "
            "'variomedia-dns records delete ID'."
        )
    return results


def _write_and_wait(run: ChallengeRun, results: Sequence[SetResult]) -> None:
    """Write the new records and wait for every record of `results`; undo the writes on
    failure, let them stand on success."""
    new = [(r.placement, r.record.value()) for r in results if r.action != "unchanged"]
    unchanged = [
        StoredRecord(
            record_id="",
            account=run.account,
            zone=r.placement.zone,
            fqdn=r.placement.fqdn,
            value=r.record.value(),
        )
        for r in results
        if r.action == "unchanged"
    ]
    try:
        run.present(new)
        run.wait([*run.written, *unchanged])
    except BaseException:
        problems = run.remove()
        if problems:
            raise VariomediaError(
                "Setting the record failed, and so did removing what was written: "
                + "; ".join(problems)
                + f". The state file {run.state.path} lists it; the next run removes it."
            ) from None
        raise
    run.keep()


def remove_records(
    run: ChallengeRun, identifiers: Sequence[str], *, issuer: str, account_uri: str
) -> tuple[list[Placement], list[Removed]]:
    """Delete this account's records at this CA for `identifiers`, and nothing else."""
    placements = run.plan(identifiers, label=PERSIST_LABEL)
    standing = _standing(run, placements)
    removed: list[Removed] = []
    for placement in placements:
        for record in standing.pop(placement.fqdn, []):
            parsed = _parsed(record)
            if parsed is None or not parsed.same_authorization(issuer, account_uri):
                continue
            write = run.client.delete_record(record.id)
            queued = not write.already_gone and write.job is not None and not write.job.done
            removed.append(Removed(record, queued))
    return placements, removed
