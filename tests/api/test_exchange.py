"""Every exchange with the API is bounded, whatever the server does (api/exchange.py).

Real HTTP to the Variomedia simulator on loopback, with the answers the outside review of issue
12 played: one that drips a byte at a time, one of 200 MB, lists whose pages never end. The
bounds are made small here so that the tests are quick; docs/reliability.md proves the defaults
end to end with certbot.
"""

from __future__ import annotations

import time

import pytest

from certbot_dns_variomedia.api.client import VariomediaClient
from certbot_dns_variomedia.api.exchange import Bounds
from certbot_dns_variomedia.api.failures import AnswerTooLarge, AnswerTooSlow
from certbot_dns_variomedia.errors import ServerError
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from .conftest import client_for


def bounded(sim: VariomediaSimulator, bounds: Bounds) -> VariomediaClient:
    return client_for(sim, bounds=bounds)


def test_a_dripping_answer_is_cut_at_the_deadline_and_not_repeated(
    sim: VariomediaSimulator,
) -> None:
    """One byte every 0.3 s keeps every read in time: once a run was held for hours."""
    sim.faults.drip(0.3, count=10, path="/domains")
    with bounded(sim, Bounds(deadline=1.0)) as client:
        started = time.monotonic()
        with pytest.raises(AnswerTooSlow) as caught:
            client.list_domains()
        took = time.monotonic() - started
        assert client.requests_sent == 1
    assert 1.0 <= took < 2.5, took
    assert str(caught.value) == (
        f"The Variomedia API at {sim.url} did not finish its answer to GET /domains within 1 s "
        "(it sent too slowly); the connection was cut and the request is not repeated. Try "
        "again later; if it persists, check dns_variomedia_api_url."
    )


def test_a_huge_answer_is_not_read_past_the_cap(sim: VariomediaSimulator) -> None:
    """Once a 200 MB body was read whole (660 MB RSS) and then asked for 5 times more."""
    sim.faults.huge(200, count=10, path="/domains")
    with bounded(sim, Bounds()) as client:
        started = time.monotonic()
        with pytest.raises(AnswerTooLarge, match=r"GET /domains with more than 4 MB; the rest"):
            client.list_domains()
        assert client.requests_sent == 1
    assert time.monotonic() - started < 5.0


def test_endless_pages_stop_at_the_cap(sim: VariomediaSimulator) -> None:
    sim.faults.endless_pages(path="/domains")
    with bounded(sim, Bounds(max_pages=7)) as client:
        with pytest.raises(ServerError, match=r"/domains did not end after 7 pages; stopping"):
            client.list_domains()
        assert client.requests_sent == 7
