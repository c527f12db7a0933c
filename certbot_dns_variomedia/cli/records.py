"""``variomedia-dns records list|add|delete``: the account's DNS records, by hand.

Hand tools for the account's DNS data, for looking at what a run left behind and for fixing it.
Names are placed with the plugin's own zone logic (the longest account domain that is a suffix
of the name), and a record is only ever deleted by its id, after it was fetched and shown, with
a yes from the terminal or ``--yes``: never on a guess from a name or a value.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..api.client import VariomediaClient
from ..api.models import MAX_TTL, MIN_TTL, DNSRecord, Domain
from ..core.state import owner_alive
from ..core.zones import ZoneMap
from ..errors import ConfigurationError, NotFoundError
from ..names import is_subdomain, relative_name, to_ace, to_unicode
from .lock import domain_json, lock_text
from .options import (
    UsageError,
    add_credentials_option,
    add_json_option,
    add_state_file_option,
    load_credentials,
    record_id_value,
    state_file,
    ttl_value,
)
from .output import confirm, print_json, say, shorten, table

RECORD_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "SRV", "TXT")
_DATA_WIDTH = 60


def _zone_of(zone_map: ZoneMap, name: str) -> Domain:
    """The account domain a name belongs in, as the plugin places challenge records."""
    fqdn = to_ace(name)
    zone = zone_map.zone_of(fqdn)
    if zone is None:
        raise zone_map.not_in_account(fqdn)
    return zone


def _record_json(record: DNSRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "type": record.record_type,
        "name": record.fqdn,
        "zone": record.domain,
        "ttl": record.ttl,
        "data": record.data,
        "tags": list(record.tags),
    }


def _describe(record: DNSRecord) -> str:
    return f"{record.record_type} {to_unicode(record.fqdn)} {record.data!r} (record {record.id})"


# -- records list --------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    credentials = load_credentials(args)
    with VariomediaClient.from_credentials(credentials) as client:
        zone_map = ZoneMap(client.list_domains())
        if args.domain:
            fqdn = to_ace(args.domain)
            zone = _zone_of(zone_map, fqdn)
            if zone.update_lock is None:  # the list left it out: ask for the domain itself
                zone = client.get_domain(zone.name)
            domains = [zone]
            records = [
                r for r in client.list_records(domains=[zone.name]) if is_subdomain(r.fqdn, fqdn)
            ]
        else:
            domains = sorted(zone_map.hosted, key=lambda d: d.name)
            records = client.list_records()
    records.sort(key=lambda r: (r.domain, r.fqdn, r.record_type, r.id))
    if args.json:
        print_json(
            {
                "domains": [domain_json(d) for d in domains],
                "records": [_record_json(r) for r in records],
            }
        )
        return 0
    say(
        table(
            ["DOMAIN", "UPDATE LOCK", "MIGRATION MODE"],
            [
                [to_unicode(d.name), lock_text(d.update_lock), lock_text(d.migration_mode)]
                for d in domains
            ],
        )
    )
    say()
    if not records:
        say("No records.")
        return 0
    say(
        table(
            ["ID", "TYPE", "NAME", "TTL", "DATA"],
            [
                [
                    r.id,
                    r.record_type,
                    to_unicode(r.fqdn),
                    "" if r.ttl is None else str(r.ttl),
                    shorten(r.data, _DATA_WIDTH),
                ]
                for r in records
            ],
        )
    )
    return 0


# -- records add ----------------------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    credentials = load_credentials(args)
    record_type = args.type.upper()
    with VariomediaClient.from_credentials(credentials) as client:
        zone = _zone_of(ZoneMap(client.list_domains()), args.name)
        fqdn = to_ace(args.name)
        write = client.create_record(
            zone.name, relative_name(fqdn, zone.name), record_type, args.value, ttl=args.ttl
        )
    job = write.job
    if args.json:
        print_json(
            {
                "id": write.record_id,
                "type": record_type,
                "name": fqdn,
                "zone": zone.name,
                "data": args.value,
                "ttl": args.ttl,
                "job": None if job is None else {"id": job.id, "status": job.status},
            }
        )
        return 0
    queued = f"; queue job {job.id} is {job.status}" if job is not None else ""
    say(
        f"Created {record_type} {to_unicode(fqdn)} in {to_unicode(zone.name)} "
        f"(record {write.record_id}{queued})."
    )
    return 0


# -- records delete -------------------------------------------------------------------------------


def _fetch(client: VariomediaClient, record_id: str) -> DNSRecord:
    try:
        return client.get_record(record_id)
    except NotFoundError:
        raise ConfigurationError(
            f"There is no DNS record with id {record_id} in this account; "
            "'variomedia-dns records list' shows the ids."
        ) from None


def cmd_delete(args: argparse.Namespace) -> int:
    credentials = load_credentials(args)
    state = state_file(args)
    with VariomediaClient.from_credentials(credentials) as client:
        account = client.account_key
        record = _fetch(client, args.id)
        ours = [r for r in state.records() if r.account == account and r.record_id == record.id]
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    f"Not deleting {_describe(record)} without a confirmation, and there is no "
                    "terminal to ask on: add --yes."
                )
            if ours and owner_alive(ours[0].owner, created=ours[0].created):
                say(
                    "This is a challenge record of a run in progress (process "
                    f"{(ours[0].owner or '').partition(':')[0]}); deleting it fails that run.",
                    file=sys.stderr,
                )
            if not confirm(f"Delete {_describe(record)}?"):
                raise ConfigurationError("Nothing deleted: not confirmed.")
        write = client.delete_record(record.id)
    if ours:
        state.discard({record.id})
    job = write.job
    if args.json:
        print_json(
            {
                **_record_json(record),
                "already_gone": write.already_gone,
                "job": None if job is None else {"id": job.id, "status": job.status},
            }
        )
        return 0
    if write.already_gone:
        say(f"{_describe(record)} was already gone.")
    else:
        queued = f" (queue job {job.id} is {job.status})" if job is not None else ""
        say(f"Deleted {_describe(record)}{queued}.")
    return 0


# -- registration ---------------------------------------------------------------------------------


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    records = subparsers.add_parser(
        "records",
        parents=[common],
        help="list, add or delete DNS records of the account",
        description="The account's DNS records, by hand.",
    )
    actions = records.add_subparsers(dest="records_action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, parents=[common], help=help_text, description=description)
        add_credentials_option(parser)
        add_json_option(parser)
        return parser

    listing = action(
        "list",
        "the records of the account, or of one domain",
        "List the records (and the domains' update lock and migration mode) of the account, or "
        "only those at DOMAIN and below.",
    )
    listing.add_argument("domain", nargs="?", metavar="DOMAIN")
    listing.set_defaults(func=cmd_list)

    add = action(
        "add",
        "create a record",
        "Create a record at NAME, in the account domain that is the longest suffix of NAME "
        "(as the plugin places challenge records).",
    )
    add.add_argument("name", metavar="NAME", help="full name, e.g. _acme-challenge.example.de")
    add.add_argument("type", metavar="TYPE", type=str.upper, choices=RECORD_TYPES, help="e.g. TXT")
    add.add_argument("value", metavar="VALUE")
    add.add_argument(
        "--ttl",
        type=ttl_value,
        default=None,
        help=f"{MIN_TTL}-{MAX_TTL} seconds (default: Variomedia's default, 1 hour)",
    )
    add.set_defaults(func=cmd_add)

    delete = action(
        "delete",
        "delete a record by its id",
        "Delete the record with this id (see 'records list'). Asks for confirmation on a "
        "terminal; elsewhere --yes is required.",
    )
    delete.add_argument("id", metavar="ID", type=record_id_value)
    delete.add_argument("--yes", action="store_true", help="delete without asking")
    add_state_file_option(delete)
    delete.set_defaults(func=cmd_delete)
