"""Fixtures of the Control Panel tests: the simulator, a client logged in to it, a test clock."""

from __future__ import annotations

import contextlib
import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_dns_variomedia.clock import Clock
from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.controlpanel.transport import DEFAULT_RATE
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

    def https(self, cert: IssuedCert, host: str = "127.0.0.1") -> HTTPSServer:
        server = HTTPSServer(
            certfile=str(cert.fullchain_path), keyfile=str(cert.key_path), host=host
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
