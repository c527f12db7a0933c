"""``variomedia-dns lock on|off|status``: a domain's DNS update lock.

The lock keeps Variomedia's automatic changes (e.g. a tariff change) from resetting the zone.
The plugin and the hooks switch it on before writing; this command shows it and switches it by
hand. It is a setting of a whole account domain, never of a name inside one.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from ..api.client import VariomediaClient
from ..api.models import Domain
from ..core.settings import Settings
from ..core.zones import ZoneMap
from ..errors import ConfigurationError
from ..names import to_ace, to_unicode
from .options import (
    add_credentials_option,
    add_json_option,
    load_credentials,
    seconds_value,
)
from .output import print_json, say


def lock_text(value: bool | None) -> str:
    return "unknown" if value is None else "on" if value else "off"


def domain_json(domain: Domain) -> dict[str, Any]:
    return {
        "name": domain.name,
        "update_lock": domain.update_lock,
        "migration_mode": domain.migration_mode,
    }


def _account_domain(client: VariomediaClient, name: str, action: str) -> Domain:
    """The account domain called exactly `name`: the lock is a setting of the whole domain."""
    zone_map = ZoneMap(client.list_domains())
    ace = to_ace(name)
    domain = next((d for d in zone_map.hosted if d.name == ace), None)
    if domain is None:
        inside = zone_map.zone_of(ace)
        if inside is not None:
            raise ConfigurationError(
                f"The DNS update lock is a setting of the domain {to_unicode(inside.name)}, "
                f"not of {to_unicode(ace)}: variomedia-dns lock {action} {inside.name}"
            )
        raise zone_map.not_in_account(ace)
    if domain.update_lock is None:  # the list left it out: ask for the domain itself
        domain = client.get_domain(ace)
    return domain


def cmd_lock(args: argparse.Namespace) -> int:
    credentials = load_credentials(args)
    changed = False
    with VariomediaClient.from_credentials(credentials) as client:
        domain = _account_domain(client, args.domain, args.action)
        wanted = {"on": True, "off": False}.get(args.action)
        if wanted is not None and domain.update_lock is not wanted:
            job = client.set_update_lock(domain.name, wanted)
            if job is not None and not job.done:
                client.wait_for_jobs([job], timeout=args.timeout)
            domain, changed = replace(domain, update_lock=wanted), True
    if args.json:
        print_json({**domain_json(domain), "changed": changed})
        return 0
    state = lock_text(domain.update_lock)
    if changed:
        say(f"Switched the DNS update lock of {to_unicode(domain.name)} {state}.")
    elif args.action == "status":
        say(f"The DNS update lock of {to_unicode(domain.name)} is {state}.")
    else:
        say(f"The DNS update lock of {to_unicode(domain.name)} is already {state}.")
    return 0


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    lock = subparsers.add_parser(
        "lock",
        parents=[common],
        help="switch a domain's DNS update lock on or off, or show it",
        description="The DNS update lock keeps Variomedia's automatic changes (e.g. a tariff "
        "change) from resetting the zone. The plugin and the hooks switch it on before "
        "writing, unless told otherwise.",
    )
    lock.add_argument("action", choices=("on", "off", "status"))
    lock.add_argument("domain", metavar="DOMAIN")
    lock.add_argument(
        "--timeout",
        type=seconds_value,
        default=Settings.propagation_timeout,
        metavar="SECONDS",
        help="how long to wait for Variomedia's queue to carry out the change",
    )
    add_credentials_option(lock)
    add_json_option(lock)
    lock.set_defaults(func=cmd_lock)
