"""``variomedia-dns doctor [DOMAIN]``: why a certificate cannot be issued, in plain words.

The checks run in the order a run depends on them — credentials, token, domain, update lock,
name servers, CNAME delegation, leftovers — and each says what it found and, when something is
wrong, what to do. A check whose premise failed is skipped rather than reported as a second,
confusing failure. Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import stat
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from .. import credentials as credentials_module
from ..api.client import VariomediaClient
from ..api.models import Domain
from ..core.state import StateFile, owner_alive
from ..core.zones import ZoneMap, place
from ..credentials import ENV_TOKEN, VariomediaCredentials
from ..errors import APIError, ConfigurationError, DNSLookupError, VariomediaError
from ..names import CHALLENGE_LABEL, identifier_name, to_unicode
from ..nameservers import NameServer
from ..paths import CERTBOT_PLUGIN_STATE_FILE
from ..resolver import Resolver
from .options import (
    add_credentials_option,
    add_json_option,
    add_nameservers_option,
    add_state_file_option,
    load_credentials,
    nameservers,
    state_file,
)
from .output import print_json, say

Status = Literal["ok", "note", "warn", "fail", "skip"]
VARIOMEDIA_NAMESERVERS = ("ns.variomedia.de", "ns2.variomedia.de")


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str | None = None


@contextlib.contextmanager
def _quiet_credentials_log() -> Iterator[None]:
    """The doctor reports file permissions itself; the loader's warning would say it twice."""
    logger = logging.getLogger(credentials_module.__name__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _on_off(value: bool | None) -> str:
    return "unknown" if value is None else "on" if value else "off"


class Doctor:
    """The checks, in order; `run` returns every finding."""

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        states: Sequence[StateFile],
        resolver: Resolver,
        servers: tuple[NameServer, ...] | None,
    ) -> None:
        self.args = args
        self.domain: str | None = args.domain
        self.states = list(states)
        self.resolver = resolver
        self.servers = servers
        self.findings: list[Finding] = []

    def add(self, check: str, status: Status, detail: str, fix: str | None = None) -> None:
        self.findings.append(Finding(check, status, detail, fix))

    def skip_rest(self, after: str, names: tuple[str, ...]) -> None:
        for name in names:
            self.add(name, "skip", f"needs {after}")

    def run(self) -> list[Finding]:
        later = ("token", "domains", "update lock", "name servers", "delegation", "state file")
        credentials = self.check_credentials()
        if credentials is None:
            self.skip_rest("working credentials", later)
            return self.findings
        with VariomediaClient.from_credentials(credentials) as client:
            domains = self.check_token(client, credentials)
            if domains is None:
                self.skip_rest("an accepted token", later[1:])
                return self.findings
            zone_map = ZoneMap(domains)
            zone = self.check_domains(zone_map)
            self.check_lock(client, zone_map, zone)
        dns_checks = ("name servers", "delegation")
        if zone is None:
            why = "a DOMAIN argument" if self.domain is None else f"{self.domain} in the account"
            self.skip_rest(why, dns_checks)
        else:
            self.check_nameservers(zone)
            self.check_delegation(zone_map)
        for state in self.states:
            self.check_state(state, client.account_key)
        return self.findings

    # -- the checks, in order ------------------------------------------------------------------

    def check_credentials(self) -> VariomediaCredentials | None:
        path = self.args.credentials
        detail = f"from ${ENV_TOKEN}"
        if path:
            p = Path(path).expanduser().absolute()
            if p.is_file():
                mode = stat.S_IMODE(p.stat().st_mode)
                detail = f"{p} (mode {mode:04o})"
                if mode & 0o077:
                    self.add(
                        "credentials",
                        "warn",
                        f"{p} can be read by other users (mode {mode:04o})",
                        f"chmod 600 {p}",
                    )
        try:
            with _quiet_credentials_log():
                credentials = load_credentials(self.args)
        except ConfigurationError as e:
            self.add("credentials", "fail", str(e))
            return None
        self.add("credentials", "ok", f"{detail}, API {credentials.api_url}")
        return credentials

    def check_token(
        self, client: VariomediaClient, credentials: VariomediaCredentials
    ) -> list[Domain] | None:
        try:
            domains = client.list_domains()
        except APIError as e:
            self.add("token", "fail", str(e))
            return None
        self.add("token", "ok", f"accepted by {credentials.api_url} ({len(domains)} domains)")
        return domains

    def check_domains(self, zone_map: ZoneMap) -> Domain | None:
        if not zone_map.hosted:
            self.add(
                "domains",
                "fail",
                f"No domain of this account has its DNS at Variomedia ({zone_map.describe()}).",
                "Order DNS hosting (a 'presence') for the domain in Variomedia's customer menu.",
            )
            return None
        if self.domain is None:
            self.add("domains", "ok", zone_map.describe()[0].upper() + zone_map.describe()[1:])
            return None
        try:
            ace = identifier_name(self.domain)
        except ConfigurationError as e:
            self.add("domains", "fail", str(e))
            return None
        zone = zone_map.zone_of(ace)
        if zone is None:
            self.add("domains", "fail", str(zone_map.not_in_account(ace)))
            return None
        self.add(
            "domains",
            "ok",
            f"{to_unicode(ace)} is in the zone {to_unicode(zone.name)}, hosted at Variomedia",
        )
        return zone

    def check_lock(self, client: VariomediaClient, zone_map: ZoneMap, zone: Domain | None) -> None:
        domains = [zone] if zone is not None else sorted(zone_map.hosted, key=lambda d: d.name)
        if zone is not None and zone.update_lock is None:
            try:
                domains = [client.get_domain(zone.name)]
            except VariomediaError as e:
                self.add("update lock", "warn", f"cannot be read: {e}")
                return
        off = [d for d in domains if d.update_lock is False]
        migrating = [to_unicode(d.name) for d in domains if d.migration_mode]
        states = ", ".join(f"{to_unicode(d.name)}: {_on_off(d.update_lock)}" for d in domains)
        if migrating:
            self.add(
                "update lock",
                "note",
                f"DNS migration mode is on for {', '.join(migrating)} (every TTL is 300 s)",
            )
        if off:
            names = " ".join(d.name for d in off)
            self.add(
                "update lock",
                "note",
                f"off ({states}). The plugin, the hooks and 'issue' switch it on before writing "
                "(unless --update-lock off), so that a tariff change cannot reset the zone.",
                f"to switch it on now: variomedia-dns lock on {names}",
            )
        else:
            self.add("update lock", "ok", states)

    def check_nameservers(self, zone: Domain) -> None:
        if self.servers is not None:
            servers = list(self.servers)
            source = "--nameservers"
        else:
            try:
                servers = self.resolver.authoritative_servers(zone.name)
            except DNSLookupError as e:
                self.add(
                    "name servers",
                    "fail",
                    str(e),
                    f"Check at the registrar that {zone.name} is delegated to "
                    f"{' and '.join(VARIOMEDIA_NAMESERVERS)}.",
                )
                return
            source = "NS records"
            hosts = sorted({s.host for s in servers})
            if not any(h == "variomedia.de" or h.endswith(".variomedia.de") for h in hosts):
                self.add(
                    "name servers",
                    "warn",
                    f"{zone.name} is served by {', '.join(hosts)}, not by Variomedia's "
                    f"{' and '.join(VARIOMEDIA_NAMESERVERS)}: records written through the API "
                    "are not what the CA sees.",
                    "Point the domain's NS records at Variomedia at the registrar.",
                )
        answers = [self.resolver.query_txt(s, zone.name) for s in servers]
        failing = [f"{a.server}: {a.error}" for a in answers if a.failed]
        if failing:
            self.add(
                "name servers",
                "fail",
                f"{len(failing)} of {len(answers)} name servers of {zone.name} give no usable "
                f"answer: {'; '.join(failing)}",
                "The CA asks any of them: make every one answer from here, or wait until an "
                "outage is over.",
            )
            return
        self.add(
            "name servers",
            "ok",
            f"all {len(answers)} ({source}) answer for {zone.name}: "
            + ", ".join(str(a.server) for a in answers),
        )

    def check_delegation(self, zone_map: ZoneMap) -> None:
        assert self.domain is not None
        try:
            placement = place([self.domain], zone_map, self.resolver.cname_target)[0]
        except (ConfigurationError, DNSLookupError) as e:
            self.add("delegation", "fail", str(e))
            return
        if placement.delegated:
            self.add(
                "delegation",
                "ok",
                f"{placement.challenge_name} is a CNAME to {placement.fqdn} (zone "
                f"{to_unicode(placement.zone)}): challenge records are written there",
            )
        else:
            self.add(
                "delegation",
                "ok",
                f"no CNAME at {CHALLENGE_LABEL}.{placement.identifier}: challenge records are "
                f"written there, in the zone {to_unicode(placement.zone)}",
            )

    def check_state(self, state: StateFile, account: str) -> None:
        if not state.path.exists():  # reading would create its directory and lock file
            self.add("state file", "ok", f"no leftovers ({state.path} does not exist)")
            return
        entries = state.records()
        mine = [r for r in entries if r.account == account]
        others = len(entries) - len(mine)
        in_use = [r for r in mine if owner_alive(r.owner, created=r.created)]
        queued = [r for r in mine if r.deleting and r not in in_use]
        left = [r for r in mine if not r.deleting and r not in in_use]
        where = str(state.path)
        if others:
            self.add("state file", "note", f"{others} entries of other accounts in {where}")
        if in_use:
            self.add("state file", "note", f"{len(in_use)} record(s) in use by a running process")
        if queued:
            self.add(
                "state file",
                "note",
                f"{len(queued)} removal(s) queued at Variomedia ("
                + ", ".join(r.record_id for r in queued)
                + "); the next run confirms them in DNS",
            )
        if left:
            listed = ", ".join(f"{r.record_id} ({r.fqdn})" for r in left)
            self.add(
                "state file",
                "warn",
                f"{len(left)} record(s) left behind by interrupted runs in {where}: {listed}",
                "The next run removes them; or now: variomedia-dns records delete ID",
            )
        elif not (in_use or queued):
            self.add("state file", "ok", f"no leftovers in {where}")


def state_files(args: argparse.Namespace) -> list[StateFile]:
    """The command's state file, and the plugin's in certbot's default work directory when it
    exists and no file was named: leftovers of either kind are worth a look."""
    states = [state_file(args)]
    if not args.state_file and CERTBOT_PLUGIN_STATE_FILE.exists():
        states.append(StateFile(CERTBOT_PLUGIN_STATE_FILE))
    return states


def cmd_doctor(args: argparse.Namespace) -> int:
    servers = nameservers(args)
    doctor = Doctor(
        args, states=state_files(args), resolver=Resolver(bootstrap=servers), servers=servers
    )
    findings = doctor.run()
    failed = any(f.status == "fail" for f in findings)
    if args.json:
        print_json({"checks": [asdict(f) for f in findings], "ok": not failed})
    else:
        width = max(len(f.check) for f in findings)
        for f in findings:
            label = f.status.upper() if f.status in ("warn", "fail") else f.status
            say(f"{label:<5} {f.check:<{width}}  {f.detail}")
            if f.fix:
                say(f"{'':<5} {'':<{width}}  fix: {f.fix}")
    return 1 if failed else 0


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = subparsers.add_parser(
        "doctor",
        parents=[common],
        help="check credentials, token, domain, lock, name servers, delegation, leftovers",
        description="Check, in order, what a certificate for DOMAIN depends on and say plainly "
        "what is wrong and how to fix it. Exit status 1 if any check fails.",
    )
    parser.add_argument("domain", nargs="?", metavar="DOMAIN", help="e.g. example.de")
    add_credentials_option(parser)
    add_state_file_option(parser)
    add_nameservers_option(parser)
    add_json_option(parser)
    parser.set_defaults(func=cmd_doctor)
