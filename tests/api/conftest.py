"""Fixtures of the API client's tests: a simulator account and a client that retries fast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certbot_dns_variomedia.api.client import VariomediaClient
from certbot_dns_variomedia.api.transport import RetryPolicy
from certbot_dns_variomedia.pacing import RequestPacer
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    VariomediaSimulator,
)

CONFIG = SimConfig(
    domains=(
        SimDomain("example.test"),
        SimDomain("other.test", update_lock=True, package_id="2"),
        SimDomain("registered-only.test", presence=False),
        SimDomain("bücher.test"),
    ),
    job_delay=0.05,
    rate_limit=None,
)
FAST = RetryPolicy(backoff=0.02, max_backoff=0.1)


def client_for(sim: VariomediaSimulator, **kwargs: object) -> VariomediaClient:
    options: dict[str, object] = {
        "token_source": "dns_variomedia_token in /test.ini",
        "retry": FAST,
        "pacer": RequestPacer(limit=1000, window=1.0),  # pacing: see test_pacing.py
    }
    options.update(kwargs)
    return VariomediaClient(sim.token, sim.url, **options)  # type: ignore[arg-type]


@pytest.fixture
def sim() -> Iterator[VariomediaSimulator]:
    with VariomediaSimulator(CONFIG) as server:
        yield server


@pytest.fixture
def client(sim: VariomediaSimulator) -> Iterator[VariomediaClient]:
    with client_for(sim) as c:
        yield c
