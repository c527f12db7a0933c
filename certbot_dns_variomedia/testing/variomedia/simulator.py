"""A faithful simulator of the Variomedia customer API and of the name servers it publishes to.

Everything the project proves about its client, it proves against this: a real HTTP server on
127.0.0.1 speaking the documented JSON:API (queue jobs, pagination, rate limit, errors), and one
real authoritative DNS server per simulated name server, each publishing a write `delay_i`
seconds after its job is done. Variants cover what the documentation leaves open; `faults`
plays what goes wrong in production.

    with VariomediaSimulator(SimConfig(domains=[SimDomain("example.test")])) as sim:
        requests.get(sim.url + "/dns-records", headers={"Authorization": f"token {sim.token}"})

Command line: ``python -m certbot_dns_variomedia.testing.variomedia --domain example.test``
prints one JSON line (url, token, nameservers) for programs, then how to use it (a credentials
file, the ``--nameservers`` value), and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import dns.name
import dns.rdatatype

from ...clock import SYSTEM_CLOCK, Clock
from ...credentials import API_URL_KEY, TOKEN_KEY
from ..servers.dns import DNSServer
from ..servers.service import Service, stop_signals
from .config import (
    DEFAULT_BASE_RECORDS,
    DEFAULT_TOKEN,
    BaseRecord,
    Lockout,
    SimConfig,
    SimDomain,
    SimNameServer,
)
from .faults import Faults
from .http import (
    Counters,
    Gateway,
    LogEntry,
    SimHTTPServer,
)
from .state import (
    Account,
    DomainSnapshot,
    JobSnapshot,
    PublishedZones,
    RecordSnapshot,
)

__all__ = [
    "DEFAULT_BASE_RECORDS",
    "DEFAULT_TOKEN",
    "BaseRecord",
    "Counters",
    "DomainSnapshot",
    "Faults",
    "JobSnapshot",
    "Lockout",
    "LogEntry",
    "RecordSnapshot",
    "SimConfig",
    "SimDomain",
    "SimNameServer",
    "VariomediaSimulator",
    "credentials_ini",
    "main",
]

_SHARED_PORT_ATTEMPTS = 20


class VariomediaSimulator(Service):
    """The API on `url` plus its name servers on `nameservers`; start()/stop() or `with`."""

    def __init__(
        self, config: SimConfig | None = None, *, clock: Clock = SYSTEM_CLOCK, port: int = 0
    ) -> None:
        self.config = config or SimConfig()
        self._clock = clock
        self._port = port
        self._account = Account(self.config, clock)
        self.faults = Faults(clock)
        self._stopping = threading.Event()
        self._http: SimHTTPServer | None = None
        self._gateway: Gateway | None = None
        self._dns: list[DNSServer] = []

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> VariomediaSimulator:
        """Bind and serve; every address and port is known when this returns."""
        if self._http is not None:
            raise RuntimeError("VariomediaSimulator.start() may be called only once")
        self._dns = self._start_name_servers()
        try:
            self._http = SimHTTPServer(self._port)
        except OSError:
            self._stop_name_servers()
            raise
        self._gateway = Gateway(
            self._account,
            self.faults,
            config=self.config,
            clock=self._clock,
            base_url=self._http.url,
            stopping=self._stopping,
        )
        self._http.serve(self._gateway)
        return self

    def stop(self) -> None:
        """Stop the HTTP and DNS servers and free their ports; safe to call more than once."""
        self._stopping.set()
        if self._http is not None:
            self._http.stop()
        self._stop_name_servers()

    def __repr__(self) -> str:
        where = self._http.url if self._http is not None else "not started"
        return f"VariomediaSimulator({where}, nameservers={self.nameservers})"

    def _start_name_servers(self) -> list[DNSServer]:
        sources = [PublishedZones(self._account, i) for i in range(len(self.config.nameservers))]
        addresses = self.config.dns_addresses
        if addresses is None:
            servers = []
            try:
                for source in sources:
                    servers.append(DNSServer(source))
                    servers[-1].start()
            except OSError:
                for server in servers:
                    server.stop()
                raise
            return servers
        return self._start_on_shared_port(sources, addresses, self.config.dns_port)

    @staticmethod
    def _start_on_shared_port(
        sources: list[PublishedZones], addresses: Sequence[str], port: int
    ) -> list[DNSServer]:
        """One server per address, all on `port`, or on the port the first one got (retried
        if taken on another address); a given port that is taken is an error at once."""
        for _ in range(_SHARED_PORT_ATTEMPTS if port == 0 else 1):
            first = DNSServer(sources[0], host=addresses[0], port=port)
            first.start()
            servers = [first]
            try:
                for source, address in zip(sources[1:], addresses[1:], strict=True):
                    servers.append(DNSServer(source, host=address, port=first.port))
                    servers[-1].start()
            except OSError as error:
                for server in servers:
                    server.stop()
                if error.errno != errno.EADDRINUSE or port != 0:
                    raise
                continue
            return servers
        raise OSError(errno.EADDRINUSE, f"no port is free on all of {list(addresses)}")

    def _stop_name_servers(self) -> None:
        for server in self._dns:
            server.stop()

    # -- where it runs -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API's base URL, e.g. http://127.0.0.1:40123 (paths as in the spec)."""
        return self._started_http().url

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def nameservers(self) -> list[str]:
        """ "host:port" of each name server, in the order of `config.nameservers`."""
        return [f"{server.address}:{server.port}" for server in self._dns]

    @property
    def dns_servers(self) -> list[DNSServer]:
        """The DNS servers themselves, e.g. to switch `behaviour` or `delay` of one of them."""
        return list(self._dns)

    # -- what happened -------------------------------------------------------------------------

    @property
    def log(self) -> list[LogEntry]:
        """Every request so far, oldest first."""
        return self._started_gateway().log

    @property
    def counters(self) -> Counters:
        return self._started_gateway().counters

    def records(self, domain: str | None = None) -> list[RecordSnapshot]:
        """Every record ever held, deleted ones included (`deleted` says which)."""
        return self._account.records(None if domain is None else {domain}, include_deleted=True)

    def domains(self) -> list[DomainSnapshot]:
        return self._account.domains()

    def jobs(self) -> list[JobSnapshot]:
        """Every queue job ever created, with its status now."""
        return self._account.jobs()

    # -- test helpers --------------------------------------------------------------------------

    def write_credentials(self, path: str | os.PathLike[str], *, token: str | None = None) -> Path:
        """A credentials INI for this simulator (the plugin's format), mode 0600 from the start."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(credentials_ini(self.url, token or self.token))
        return Path(path)

    def add_record(
        self,
        domain: str,
        name: str,
        record_type: str,
        data: str,
        *,
        ttl: int = 3600,
        tags: Sequence[str] = ("custom",),
        deletable: bool = True,
    ) -> RecordSnapshot:
        """Seed a record as if it had always been there: listed, and served by every name
        server at once. ValueError if the API would have refused it."""
        return self._account.seed(
            domain, name, record_type, data, ttl=ttl, tags=tags, deletable=deletable
        )

    def visible(self, ns_index: int, fqdn: str, rdtype: str = "TXT") -> list[str]:
        """The values name server `ns_index` serves now for `fqdn` (TXT as plain strings),
        read from its data directly, whatever its `behaviour`."""
        qname = dns.name.from_text(fqdn)
        kind = dns.rdatatype.from_text(rdtype)
        found = PublishedZones(self._account, ns_index).lookup(qname, kind)
        values = []
        for rrset in found.answer:
            if rrset.name == qname and rrset.rdtype == kind:
                for rdata in rrset:
                    if kind == dns.rdatatype.TXT:
                        values.append(b"".join(rdata.strings).decode())
                    else:
                        values.append(rdata.to_text())
        return sorted(values)

    def _started_http(self) -> SimHTTPServer:
        if self._http is None:
            raise RuntimeError("the simulator is not started")
        return self._http

    def _started_gateway(self) -> Gateway:
        if self._gateway is None:
            raise RuntimeError("the simulator is not started")
        return self._gateway


def credentials_ini(url: str, token: str) -> str:
    """The credentials file the plugin and ``variomedia-dns`` read, for a simulator."""
    return (
        "# Variomedia simulator credentials (loopback only)\n"
        f"{TOKEN_KEY} = {token}\n"
        f"{API_URL_KEY} = {url}\n"
    )


def usage(sim: VariomediaSimulator) -> str:
    """What a person needs to use a running simulator (the JSON line above it is for programs).

    It spells out the ``--nameservers`` value because nothing else finds these servers: the
    zones' NS records lead nowhere on loopback, and without it ``doctor`` reports none.
    """
    servers = ",".join(sim.nameservers)
    domains = [d.name for d in sim.config.domains]
    ini = "".join(f"  {line}\n" for line in credentials_ini(sim.url, sim.token).splitlines())
    return (
        f"The Variomedia simulator is running: API {sim.url}, name servers {servers}, "
        f"account domains {', '.join(domains)}.\n"
        "\n"
        "Save this as variomedia.ini, then chmod 600 variomedia.ini:\n"
        f"{ini}"
        "\n"
        "The zones' NS records lead nowhere on loopback: give every command that asks a zone's\n"
        "name servers these ones, e.g.\n"
        f"  variomedia-dns doctor {domains[0]} --credentials variomedia.ini "
        f"--nameservers {servers}\n"
        "  certbot certonly --authenticator dns-variomedia --dns-variomedia-credentials "
        f"variomedia.ini --dns-variomedia-nameservers {servers} ...\n"
        "certbot also needs an ACME server: variomedia-sandbox --serve runs Pebble and a\n"
        "simulator of its own, and prints complete commands.\n"
        "\n"
        "Ctrl-C stops the simulator."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a simulator from the command line until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m certbot_dns_variomedia.testing.variomedia",
        description="Serve the Variomedia API simulator and its name servers on loopback. The "
        "first line printed is JSON (url, token, nameservers) for programs; the rest says how "
        "to use it.",
    )
    parser.add_argument(
        "--domain", action="append", default=[], help="an account domain (repeatable)"
    )
    parser.add_argument(
        "--token",
        default=DEFAULT_TOKEN,
        help="the token to accept (a simulator token, never a real one)",
    )
    parser.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one)")
    parser.add_argument("--job-delay", type=float, default=SimConfig.job_delay)
    parser.add_argument(
        "--ns-delay",
        type=float,
        action="append",
        default=[],
        help="one name server per use, with this publishing delay (default: 0 and 0.3)",
    )
    parser.add_argument("--no-rate-limit", action="store_true")
    args = parser.parse_args(argv)

    domains = [SimDomain(name) for name in args.domain or ["example.test"]]
    nameservers = SimConfig().nameservers
    if args.ns_delay:
        nameservers = [
            SimNameServer(f"ns{i}.variomedia.test", delay=delay)
            for i, delay in enumerate(args.ns_delay, start=1)
        ]
    config = SimConfig(
        token=args.token,
        domains=domains,
        nameservers=nameservers,
        job_delay=args.job_delay,
        rate_limit=None if args.no_rate_limit else SimConfig.rate_limit,
    )
    with stop_signals() as stop, VariomediaSimulator(config, port=args.port) as sim:
        summary = {"url": sim.url, "token": sim.token, "nameservers": sim.nameservers}
        print(json.dumps(summary), flush=True)  # for programs: always the first line
        print(usage(sim), flush=True)
        stop.wait()
    return 0
