"""Fixtures of the Variomedia simulator's tests: simulators that stop after the test, a bare
HTTP client that speaks to them like a careful client would, and DNS questions to their name
servers.

Most tests drive the simulator with a fake clock, so job and publishing timing is exact and
nothing sleeps; a few run on the real clock to prove the same behaviour in real time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest
import requests

from certbot_dns_variomedia.clock import SYSTEM_CLOCK, Clock
from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    VariomediaSimulator,
)

TIMEOUT = 5.0
V1 = "application/vnd.variomedia.v1+json"
JSON_API = "application/vnd.api+json"
UNAUTHORIZED = (
    "The server could not verify that you are authorized to access the URL requested. You "
    "either supplied the wrong credentials (e.g. a bad password), or your browser doesn't "
    "understand how to supply the credentials required."
)
TWO_DOMAINS = (SimDomain("example.test"), SimDomain("other.test", package_id="2"))


class Api:
    """A bare requests session that speaks to one simulator like a careful client would."""

    def __init__(self, sim: VariomediaSimulator) -> None:
        self.base = sim.url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"token {sim.token}", "Accept": V1})

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=TIMEOUT, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=TIMEOUT, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.patch(self.url(path), json=body, timeout=TIMEOUT, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.url(path), timeout=TIMEOUT, **kwargs)

    def create(
        self,
        name: str,
        data: str,
        record_type: str = "TXT",
        domain: str = "example.test",
        **extra: Any,
    ) -> requests.Response:
        attributes = {"record_type": record_type, "name": name, "domain": domain, "data": data}
        return self.post(
            "/dns-records",
            {"data": {"type": "dns-record", "attributes": {**attributes, **extra}}},
        )

    def create_ok(self, name: str, data: str, **kwargs: Any) -> tuple[str, str]:
        """(record id, job id) of a successful create."""
        response = self.create(name, data, **kwargs)
        assert response.status_code == 202, response.text
        links = response.json()["data"]["links"]
        return links["dns-record"].rsplit("/", 1)[1], response.json()["data"]["id"]


Launch = Callable[..., VariomediaSimulator]


@pytest.fixture
def clock() -> FakeClock:
    """Moves only when a test advances it (or the simulator sleeps on it)."""
    return FakeClock()


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Start simulators for a test and stop every one of them afterwards."""
    started: list[VariomediaSimulator] = []

    def start(
        config: SimConfig | None = None, *, clock: Clock = SYSTEM_CLOCK
    ) -> VariomediaSimulator:
        sim = VariomediaSimulator(config or SimConfig(rate_limit=None), clock=clock)
        started.append(sim)
        return sim.start()

    try:
        yield start
    finally:
        for sim in started:
            sim.stop()


@pytest.fixture
def connect() -> Iterator[Callable[[VariomediaSimulator], Api]]:
    sessions: list[Api] = []

    def make(sim: VariomediaSimulator) -> Api:
        sessions.append(Api(sim))
        return sessions[-1]

    try:
        yield make
    finally:
        for api in sessions:
            api.session.close()


@pytest.fixture
def sim(launch: Launch, clock: FakeClock) -> VariomediaSimulator:
    return launch(SimConfig(domains=TWO_DOMAINS, rate_limit=None), clock=clock)


@pytest.fixture
def api(sim: VariomediaSimulator, connect: Callable[[VariomediaSimulator], Api]) -> Api:
    return connect(sim)


def dig(
    sim: VariomediaSimulator, index: int, name: str, rdtype: str = "TXT"
) -> dns.message.Message:
    """Ask name server `index` like a modern resolver would (EDNS, 1232-byte payload)."""
    host, port = sim.nameservers[index].rsplit(":", 1)
    query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    return dns.query.udp(query, host, port=int(port), timeout=TIMEOUT)


def txt(response: dns.message.Message) -> list[str]:
    return sorted(
        b"".join(rdata.strings).decode()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for rdata in rrset
    )


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    assert error["status"] == str(response.status_code)
    return error
