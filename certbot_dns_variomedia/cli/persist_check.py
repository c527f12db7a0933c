"""``variomedia-dns persist check``: does the record still authorize the account, on every server?

Only DNS is asked (`core.persist_lookup`): no token, so it serves as a monitoring check. Exit
status 0 fine, 1 ``persistUntil`` within ``--warn-days``, 2 missing, expired or wrong; the
report names what covers wildcards, the days left, and malformed or other accounts' records.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from ..core.persist import PersistRecord
from ..core.persist_lookup import NameStatus, authoritative_servers, look_up
from ..names import to_unicode
from ..resolver import Resolver
from .options import nameservers
from .output import print_json, say, table
from .persist_account import record_names, resolve

DEFAULT_WARN_DAYS = 30


def _status_word(status: NameStatus, now: float, warn_days: float) -> str:
    if not status.valid:
        return "FAIL"
    assert status.standing.valid is not None
    days = status.standing.valid.days_left(now)
    return "WARN" if days is not None and days < warn_days else "ok"


def _until_cell(record: PersistRecord | None, now: float) -> str:
    if record is None:
        return "-"
    days = record.days_left(now)
    return record.until_text() if days is None else f"{record.until_text()} ({days:.0f} days)"


def _status_json(status: NameStatus, word: str, now: float) -> dict[str, Any]:
    valid = status.standing.valid
    return {
        "name": status.name,
        "record_name": status.chain[0],
        "queried_name": status.queried,
        "status": word.lower(),
        "problem": status.problem,
        "record": None if valid is None else valid.value(),
        "wildcard": None if valid is None else valid.wildcard,
        "persist_until": None if valid is None else valid.persist_until,
        "days_left": None if valid is None else valid.days_left(now),
        "servers": [
            {"server": str(a.server), "values": sorted(a.values), "error": a.error}
            for a in status.answers
        ],
        "conflicting": status.seen.conflicting,
        "malformed": [{"value": v, "why": w} for v, w in status.seen.malformed],
        "other_accounts": [r.account_uri for r in status.seen.other_accounts],
    }


def _notes(statuses: Sequence[NameStatus]) -> list[str]:
    notes: list[str] = []
    for status in {s.queried: s for s in statuses}.values():
        where = to_unicode(status.queried)
        for value, why in status.seen.malformed:
            notes.append(f'{where}: malformed record "{value}" ({why})')
        if status.seen.conflicting:
            notes.append(f"{where}: this account has several records for this CA that differ")
        for other in status.seen.other_accounts:
            notes.append(f"{where}: this CA's record for another account, {other.account_uri}")
    return notes


def cmd_check(args: argparse.Namespace) -> int:
    authority = resolve(args, create=False)
    given = nameservers(args)
    resolver = Resolver(bootstrap=given)
    now = time.time()
    statuses = look_up(
        record_names(args),
        resolver=resolver,
        servers_for=authoritative_servers(resolver, given),
        issuers=authority.issuers,
        account_uri=authority.account_uri,
        now=now,
    )
    words = [_status_word(s, now, args.warn_days) for s in statuses]
    code = 2 if "FAIL" in words else 1 if "WARN" in words else 0
    if args.json:
        print_json(
            {
                "account_uri": authority.account_uri,
                "issuers": list(authority.issuers),
                "status": code,
                "names": [_status_json(s, w, now) for s, w in zip(statuses, words, strict=True)],
            }
        )
        return code
    say(f"dns-persist-01 for {authority.account_uri} at {', '.join(authority.issuers)}:")
    rows = []
    for status, word in zip(statuses, words, strict=True):
        valid = status.standing.valid
        scope = "-" if valid is None else "wildcard" if valid.wildcard else "this name only"
        shown = f"{sum(1 for a in status.answers if not a.failed)} of {len(status.answers)}"
        rows.append(
            [
                to_unicode(status.name),
                word,
                scope,
                _until_cell(valid, now),
                shown,
                status.problem or "",
            ]
        )
    say(table(["NAME", "STATUS", "COVERS", "PERSIST UNTIL", "SERVERS", "PROBLEM"], rows))
    for note in _notes(statuses):
        say(f"note: {note}")
    if code == 1:
        say(
            f"persistUntil is less than {args.warn_days:g} days away: renew the record with "
            "'variomedia-dns persist set ... --persist-until DATE --replace'."
        )
    return code
