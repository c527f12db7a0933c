"""``variomedia-dns persist show|set|check|remove``: the standing dns-persist-01 records.

A record at ``_validation-persist.<name>`` names a CA and an ACME account; while it stands, that
account may issue for the name with no DNS change at all. ``show`` prints it (no token),
``set`` writes it through the API and waits until every authoritative name server shows it,
``check`` asks every server whether it still authorizes (no token; a monitoring check), and
``remove`` deletes exactly this account's record for this CA. The rules live in
`core.persist`, the DNS side in `core.persist_lookup`, the writes in `core.persist_write`.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from ..core.persist import PersistRecord, build, record_name, too_long
from ..core.persist_write import remove_records, set_records
from ..core.run import ChallengeRun
from ..core.settings import Settings
from ..names import to_unicode
from . import persist_check
from .options import (
    UsageError,
    add_challenge_options,
    add_credentials_option,
    add_domains_option,
    add_json_option,
    add_nameservers_option,
    add_state_file_option,
    challenge_settings,
    days_value,
    load_credentials,
    nameservers,
    state_file,
)
from .output import print_json, say
from .persist_account import (
    Authority,
    add_account_options,
    add_key_options,
    cmd_rotate_key,
    record_names,
    resolve,
)

logger = logging.getLogger(__name__)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# -- option values -------------------------------------------------------------------------------


def until_value(text: str) -> int:
    """``2027-01-01`` (00:00 UTC), an ISO 8601 time with its zone, or UNIX seconds."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: give 2027-01-01, 2027-01-01T12:00:00+01:00 or UNIX seconds"
        ) from None
    if when.tzinfo is None:
        if not _DATE.fullmatch(value):
            raise argparse.ArgumentTypeError(
                f"{text!r} has a time but no time zone: add Z or +01:00"
            )
        when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp())


def _records(args: argparse.Namespace, authority: Authority) -> dict[str, PersistRecord]:
    """One record per record name: ``-d '*.example.de'`` (or --policy wildcard) asks for
    policy=wildcard at example.de."""
    until = getattr(args, "persist_until", None)
    if until is not None and until <= time.time():
        shown = PersistRecord("", "", persist_until=until).until_text()
        raise UsageError(
            f"--persist-until {shown} is in the past: every CA would refuse the record at once."
        )
    wanted: dict[str, PersistRecord] = {}
    for name in record_names(args):
        base = name.removeprefix("*.")
        wildcard = (
            args.policy == "wildcard"
            or name.startswith("*.")
            or (base in wanted and (wanted[base].wildcard))
        )
        wanted[base] = build(
            authority.issuer, authority.account_uri, wildcard=wildcard, persist_until=until
        )
    return wanted


def _record_json(name: str, record: PersistRecord) -> dict[str, Any]:
    return {
        "name": record_name(name),
        "value": record.value(),
        "issuer": record.issuer,
        "account_uri": record.account_uri,
        "wildcard": record.wildcard,
        "persist_until": record.persist_until,
    }


def _warn_if_long(records: Sequence[PersistRecord]) -> None:
    if any(too_long(r) for r in records):
        logger.warning(
            "The record is longer than 255 octets, so DNS stores it as several strings; some "
            "CAs read only the first."
        )


# -- show ------------------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    authority = resolve(args, create=True)
    wanted = _records(args, authority)
    if args.json:
        print_json(
            {
                "account_uri": authority.account_uri,
                "issuer": authority.issuer,
                "records": [_record_json(n, r) for n, r in wanted.items()],
            }
        )
        return 0
    for name, record in wanted.items():
        say(f'{record_name(name)}. IN TXT "{record.value()}"')
    _warn_if_long(list(wanted.values()))
    return 0


# -- set and remove ------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> ChallengeRun:
    """The core's writer, as for dns-01 (update lock, state file, the wait on every server)."""
    servers = nameservers(args)
    settings = (
        challenge_settings(args, servers) if hasattr(args, "ttl") else Settings(nameservers=servers)
    )
    return ChallengeRun.open(load_credentials(args), state_file(args), settings)


def cmd_set(args: argparse.Namespace) -> int:
    authority = resolve(args, create=True)
    wanted = _records(args, authority)
    with _run(args) as run:
        results = set_records(run, wanted, replace=args.replace)
    if args.json:
        print_json(
            {
                "account_uri": authority.account_uri,
                "issuer": authority.issuer,
                "records": [
                    {
                        **_record_json(r.placement.identifier, r.record),
                        "written_at": r.placement.fqdn,
                        "action": r.action,
                        "replaced": [old.data for old in r.old],
                    }
                    for r in results
                ],
            }
        )
        return 0
    words = {"created": "Set", "unchanged": "Already set", "replaced": "Replaced"}
    for result in results:
        where = to_unicode(result.placement.fqdn)
        say(f'{words[result.action]}: {where} TXT "{result.record.value()}"')
    say(f"Visible on every authoritative name server; the account {authority.account_uri} may")
    say(f"now issue for these names at {authority.issuer} with no DNS change.")
    _warn_if_long([r.record for r in results])
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    authority = resolve(args, create=False)
    bases = list(dict.fromkeys(n.removeprefix("*.") for n in record_names(args)))
    with _run(args) as run:
        placements, removed = remove_records(
            run, bases, issuer=authority.issuer, account_uri=authority.account_uri
        )
    if args.json:
        print_json(
            {
                "account_uri": authority.account_uri,
                "issuer": authority.issuer,
                "removed": [
                    {"id": r.record.id, "name": r.record.fqdn, "value": r.record.data}
                    for r in removed
                ],
            }
        )
        return 0
    if not removed:
        where = ", ".join(to_unicode(p.fqdn) for p in placements)
        say(f"No record of {authority.account_uri} for {authority.issuer} at {where}: nothing")
        say("removed.")
        return 0
    for item in removed:
        queued = " (Variomedia's queue is still carrying it out)" if item.queued else ""
        say(f'Removed: {to_unicode(item.record.fqdn)} TXT "{item.record.data}"{queued}')
    say("New validations with this record fail from now on; authorizations the CA already")
    say("holds stay valid until they expire. To stop issuing at once, deactivate the account.")
    return 0


# -- registration ---------------------------------------------------------------------------------


def _until_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--persist-until",
        type=until_value,
        metavar="DATE",
        help="after this, CAs stop accepting the record: 2027-01-01 (UTC), an ISO 8601 time "
        "with zone, or UNIX seconds (default: no end)",
    )


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    persist = subparsers.add_parser(
        "persist",
        parents=[common],
        help="dns-persist-01: show, set, check or remove the standing validation record",
        description="A record at _validation-persist.NAME names a CA and an ACME account; while "
        "it stands, that account may issue for NAME with no DNS change and no API token.",
    )
    actions = persist.add_subparsers(dest="persist_action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, *, create: bool) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, parents=[common], help=help_text, description=help_text)
        add_domains_option(
            parser,
            "a name the record is for ('*.NAME' asks for policy=wildcard); repeat, or separate "
            "with commas",
        )
        add_account_options(parser, create=create)
        add_json_option(parser)
        return parser

    def scope(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--policy",
            choices=("wildcard",),
            help="policy=wildcard: the record also covers *.NAME and every name below NAME",
        )
        _until_option(parser)

    show = action("show", "print the record(s) that authorize the account at the CA", create=True)
    scope(show)
    show.set_defaults(func=cmd_show)

    set_ = action(
        "set",
        "write the record(s) through the API and wait until every name server shows them",
        create=True,
    )
    scope(set_)
    set_.add_argument(
        "--replace",
        action="store_true",
        help="replace this account's different record for this CA (others are never touched)",
    )
    add_credentials_option(set_)
    add_state_file_option(set_)
    add_nameservers_option(set_)
    add_challenge_options(set_)
    set_.set_defaults(func=cmd_set)

    check = action(
        "check",
        "ask every authoritative name server whether the record authorizes the account "
        "(exit 0 fine, 1 persistUntil within --warn-days, 2 missing, expired or wrong)",
        create=False,
    )
    check.add_argument(
        "--warn-days",
        type=days_value,
        default=persist_check.DEFAULT_WARN_DAYS,
        metavar="DAYS",
        help="exit 1 when persistUntil is fewer days away (default: "
        f"{persist_check.DEFAULT_WARN_DAYS})",
    )
    add_nameservers_option(check)
    check.set_defaults(func=persist_check.cmd_check)

    rotate_help = "give issue's account at --server a new key; its URL, and so its records, stay"
    rotate = actions.add_parser(
        "rotate-key", parents=[common], help=rotate_help, description=rotate_help
    )
    add_key_options(rotate)
    add_json_option(rotate)
    rotate.set_defaults(func=cmd_rotate_key)

    remove = action("remove", "delete exactly this account's record(s) for this CA", create=False)
    add_credentials_option(remove)
    add_state_file_option(remove)
    add_nameservers_option(remove)
    remove.set_defaults(func=cmd_remove)
