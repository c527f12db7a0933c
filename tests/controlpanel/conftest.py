"""Fixtures of the Control Panel tests: the simulator, a client logged in to it, a test clock,
TLS servers, DNS, and the whole world one audit talks to (``world``) with ways to run cp-audit."""

from __future__ import annotations

import contextlib
import datetime
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_variomedia.clock import Clock
from certbot_dns_variomedia.controlpanel.cli import main
from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.controlpanel.transport import DEFAULT_RATE, Transport
from certbot_dns_variomedia.nameservers import NameServer
from certbot_dns_variomedia.resolver import Resolver
from certbot_dns_variomedia.testing.acme.certs import (
    CertificateAuthority,
    IssuedCert,
    utcnow,
)
from certbot_dns_variomedia.testing.controlpanel.simulator import (
    ControlPanelSimConfig,
    ControlPanelSimulator,
)
from certbot_dns_variomedia.testing.servers.dns import DNSServer
from certbot_dns_variomedia.testing.servers.https import HTTPSServer
from certbot_dns_variomedia.testing.servers.signed_zones import SignedZones
from certbot_dns_variomedia.testing.servers.smtp import StartTLSServer


class RecordingClock:
    """A clock whose sleeps return at once and are recorded (the waits are what is tested)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
def sim() -> Iterator[ControlPanelSimulator]:
    simulator = ControlPanelSimulator(ControlPanelSimConfig(emails_per_domain=120, seed=7))
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def make_client(
    sim: ControlPanelSimulator,
    clock: Clock | None = None,
    *,
    max_retries: int = 3,
    max_retry_after: float = 30.0,
    cp_token: str | None = None,
    app_id: str | None = None,
    rate: float = DEFAULT_RATE,
) -> ControlPanelClient:
    """A client of ``sim`` with short timeouts (a hung test fails fast)."""
    c = sim.config
    return ControlPanelClient(
        Transport(
            sim.url,
            app_id=c.app_id if app_id is None else app_id,
            app_version=c.app_version,
            cp_token=c.cp_token if cp_token is None else cp_token,
            timeout=(2.0, 5.0),
            clock=clock or RecordingClock(),
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            rate=rate,
        )
    )


@pytest.fixture
def client(sim: ControlPanelSimulator, clock: RecordingClock) -> Iterator[ControlPanelClient]:
    cp = make_client(sim, clock)
    with cp:
        cp.login(sim.config.username, sim.config.password)
        yield cp


# -- TLS servers and certificates ------------------------------------------------------------


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """A root CA for the whole session; tests issue their own leaves from it."""
    return CertificateAuthority.create(tmp_path_factory.mktemp("ca"), name="cp-audit test CA")


class Servers:
    """Starts SMTP and HTTPS servers for one test and stops every one of them afterwards."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack

    def smtp(
        self,
        cert: IssuedCert | None = None,
        host: str = "127.0.0.1",
        versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None,
    ) -> StartTLSServer:
        server = StartTLSServer(
            certfile=str(cert.fullchain_path) if cert else None,
            keyfile=str(cert.key_path) if cert else None,
            host=host,
            versions=versions,
        )
        return self._stack.enter_context(server)

    def https(
        self,
        cert: IssuedCert,
        host: str = "127.0.0.1",
        *,
        pages: Mapping[str, tuple[int, str, bytes]] | None = None,
        sni: Mapping[str, tuple[str, str]] | None = None,
    ) -> HTTPSServer:
        server = HTTPSServer(
            certfile=str(cert.fullchain_path),
            keyfile=str(cert.key_path),
            host=host,
            pages=pages,
            sni=sni,
        )
        return self._stack.enter_context(server)


@pytest.fixture
def servers() -> Iterator[Servers]:
    with contextlib.ExitStack() as stack:
        yield Servers(stack)


@pytest.fixture
def zones() -> SignedZones:
    """DNS data for the audit: zones example.test and brand.test, no records yet, below a
    signed zone test. (the tests' DNSSEC trust anchor); example.test is unsigned until a test
    signs it."""
    data = SignedZones()
    data.add_zone("test")
    data.sign("test")
    data.add_zone("example.test")
    data.add_zone("brand.test")
    return data


@pytest.fixture
def dns_server(zones: SignedZones) -> Iterator[DNSServer]:
    server = DNSServer(zones)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def resolver(dns_server: DNSServer) -> Resolver:
    """The project's resolver, asking only the loopback DNS server."""
    return Resolver(
        bootstrap=[NameServer("loopback", dns_server.address, dns_server.port)], timeout=2.0
    )


def leaf(
    ca: CertificateAuthority,
    tmp_path: Path,
    names: list[str],
    *,
    days: float = 90,
    filename: str | None = None,
) -> IssuedCert:
    """A leaf from ``ca`` valid for ``days`` more days (negative: expired that long ago)."""
    return ca.issue(
        names,
        not_after=utcnow() + datetime.timedelta(days=days),
        directory=tmp_path,
        filename=filename,
    )


CP_AUDIT = Path(sys.executable).with_name("cp-audit")
MX = "mx1.example.test"
WHITELABEL = "cp.brand.test"
MTA_STS = "mta-sts.example.test"
POLICY_PATH = "/.well-known/mta-sts.txt"


# -- the world one audit talks to -------------------------------------------------------------


@dataclass
class World:
    """Everything one audit talks to, all on loopback."""

    ca: CertificateAuthority
    zones: SignedZones
    dns: DNSServer
    sim: ControlPanelSimulator
    servers: Servers
    tmp_path: Path
    credentials: Path
    trust_anchor: Path
    smtp_port: int = 0
    https_certs: dict[str, IssuedCert] = field(default_factory=dict)
    pages: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    https: HTTPSServer | None = None

    @property
    def https_port(self) -> int:
        """One HTTPS server on loopback plays every HTTPS host given (by SNI): started on
        first use, so every host is known by then. 0 when there is none."""
        if self.https is None and self.https_certs:
            (_, cert), *others = self.https_certs.items()
            sni = {n: (str(c.fullchain_path), str(c.key_path)) for n, c in others}
            self.https = self.servers.https(cert, sni=sni, pages=self.pages)
        return self.https.port if self.https is not None else 0

    def gateway(self, cert: IssuedCert | None) -> None:
        """Serve ``MX`` (the domain's only MX) with this certificate (None: no STARTTLS)."""
        self.smtp_port = self.servers.smtp(cert).port

    def mta_sts(
        self,
        policy: str | None,
        *,
        cert: IssuedCert | None = None,
        status: int = 200,
        kind: str = "text/plain",
        record: str = "v=STSv1; id=20240501",
    ) -> None:
        """Announce MTA-STS for example.test and serve ``policy`` (None: 404) at its URL."""
        self.zones.add("_mta-sts.example.test", "TXT", f'"{record}"')
        self.zones.add(MTA_STS, "A", "127.0.0.1")
        if policy is None:
            status, policy = 404, "not found"
        self.pages[POLICY_PATH] = (status, kind, policy.encode())
        self.https_certs[MTA_STS] = cert or self.leaf([MTA_STS])

    def whitelabel(self, cert: IssuedCert) -> None:
        """Give the domain a whitelabel host on loopback with this certificate."""
        self.https_certs[WHITELABEL] = cert
        self.sim.whitelabel[self.sim.object_id("example.test")] = WHITELABEL

    def argv(
        self, *extra: str, domain: str = "example.test", control_panel: bool = True
    ) -> list[str]:
        """cp-audit's arguments for this world; without the Control Panel: faster, for tests
        of DNS and certificates."""
        panel = (
            ["--credentials", str(self.credentials)] if control_panel else ["--no-control-panel"]
        )
        args = [
            "--domain",
            domain,
            *panel,
            "--dns-server",
            f"127.0.0.1:{self.dns.port}",
            "--ca-bundle",
            str(self.ca.cert_path),
            "--dnssec-anchors",
            str(self.trust_anchor),
            "--timeout",
            "5",
        ]
        if self.smtp_port:
            args += ["--smtp-port", str(self.smtp_port)]
        if self.https_port:
            args += ["--https-port", str(self.https_port)]
        return [*args, *extra]

    def leaf(
        self, names: Sequence[str], days: float = 90, filename: str | None = None
    ) -> IssuedCert:
        return leaf(self.ca, self.tmp_path, list(names), days=days, filename=filename)


def run_script(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    assert CP_AUDIT.exists(), f"{CP_AUDIT} missing: is the package installed (pip install -e .)?"
    return subprocess.run(
        [str(CP_AUDIT), *argv], capture_output=True, text=True, timeout=60, check=False
    )


def run_main(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``cp-audit`` in this process (faster, for the many finer cases)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def reasons(document: dict[str, Any]) -> list[str]:
    return [
        f"{r['severity']}: {r['subject']}: {r['message']}" for r in document["verdict"]["reasons"]
    ]


@pytest.fixture
def world(
    ca: CertificateAuthority,
    zones: SignedZones,
    dns_server: DNSServer,
    servers: Servers,
    tmp_path: Path,
) -> Iterator[World]:
    zones.add("example.test", "MX", f"10 {MX}")
    zones.add(MX, "A", "127.0.0.1")
    zones.add(WHITELABEL, "A", "127.0.0.1")
    zones.add("_smtp._tls.example.test", "TXT", '"v=TLSRPTv1; rua=mailto:tls@example.test"')
    sim = ControlPanelSimulator(ControlPanelSimConfig(control_panel_host="127.0.0.1", seed=5))
    sim.start()
    try:
        credentials = sim.write_credentials(tmp_path / "cp.ini")
        anchor = tmp_path / "anchors.txt"  # --dnssec-anchors: the DS of the signed zone test.
        anchor.write_text(zones.trust_anchor("test"))
        yield World(ca, zones, dns_server, sim, servers, tmp_path, credentials, anchor)
    finally:
        sim.stop()
