"""Fixtures of the Control Panel tests: the simulator, a client logged in to it, a test clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.testing.controlpanel_sim import (
    ControlPanelSimConfig,
    ControlPanelSimulator,
)


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
    clock: RecordingClock | None = None,
    *,
    max_retries: int = 3,
    max_retry_after: float = 30.0,
    cp_token: str | None = None,
    app_id: str | None = None,
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
    )


@pytest.fixture
def client(sim: ControlPanelSimulator, clock: RecordingClock) -> Iterator[ControlPanelClient]:
    cp = make_client(sim, clock)
    with cp:
        cp.login(sim.config.username, sim.config.password)
        yield cp
