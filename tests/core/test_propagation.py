"""propagation.py: rounds of real DNS queries to loopback servers; time from a fake clock.

Two authoritative servers (ns1 on 127.0.0.2, ns2 on 127.0.0.3, same port) each hold their own
copy of the zone, so a record can be on one server and not yet on the other. The fake clock's
sleeps return at once, so the timing logic is tested exactly and the tests stay fast; the
DNS is real.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from certbot_dns_variomedia.core.propagation import (
    Expectation,
    Plan,
    PropagationStatus,
    check,
    wait,
)
from certbot_dns_variomedia.errors import PropagationError
from certbot_dns_variomedia.nameservers import NameServer, TxtAnswer
from certbot_dns_variomedia.resolver import Resolver
from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones

NAME = "_acme-challenge.example.test"
OTHER = "_acme-challenge.other.test"
TIMEOUT = 0.5


@dataclass
class Servers:
    ns1: DNSServer
    ns2: DNSServer
    zones1: StaticZones
    zones2: StaticZones
    resolver: Resolver

    @property
    def server1(self) -> NameServer:
        return NameServer("ns1.example.test", "127.0.0.2", self.ns1.port)

    @property
    def server2(self) -> NameServer:
        return NameServer("ns2.example.test", "127.0.0.3", self.ns2.port)

    def plan(self, *records: tuple[str, str]) -> Plan:
        both = [self.server1, self.server2]
        return Plan.build(records, {name: both for name, _ in records})


def _zones() -> StaticZones:
    zones = StaticZones()
    for zone in ("example.test", "other.test"):
        zones.add_zone(zone, ["ns1.example.test", "ns2.example.test"])
    return zones


@pytest.fixture
def dns() -> Iterator[Servers]:
    zones1, zones2 = _zones(), _zones()
    with contextlib.ExitStack() as stack:
        for _ in range(20):
            ns1 = stack.enter_context(DNSServer(zones1, host="127.0.0.2"))
            try:
                ns2 = stack.enter_context(DNSServer(zones2, host="127.0.0.3", port=ns1.port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                ns1.stop()
                continue
            break
        else:
            raise RuntimeError("no port free on both 127.0.0.2 and 127.0.0.3")
        # Propagation never uses the bootstrap resolver; point it at ns1 so nothing leaves.
        resolver = Resolver([NameServer("ns1", "127.0.0.2", ns1.port)], timeout=TIMEOUT)
        yield Servers(ns1, ns2, zones1, zones2, resolver)


# -- one round --------------------------------------------------------------------------------


def test_check_reports_each_server(dns: Servers) -> None:
    dns.zones1.add(NAME, "TXT", '"v1"', '"v2"')
    dns.zones2.add(NAME, "TXT", '"v1"')
    plan = dns.plan((NAME, "v1"), (NAME, "v2"))

    status = check(plan, dns.resolver)

    assert (status.visible, status.total, status.done, status.queries) == (3, 4, False, 2)
    first, second = status.servers
    assert first.server == dns.server1
    assert (first.done, first.confirmed, first.missing, first.failing) == (True, (NAME,), {}, {})
    assert (second.done, second.visible, second.total) == (False, 1, 2)
    assert second.missing == {NAME: frozenset({"v2"})}
    assert status.lagging == (second,)
    assert second.describe() == f"{dns.server2}: 1 of 2 records visible"
    assert status.summary() == "3 of 4 records visible on 2 name servers"


def test_confirmed_pairs_are_not_asked_again(dns: Servers) -> None:
    dns.zones1.add(NAME, "TXT", '"v1"')
    plan = dns.plan((NAME, "v1"))
    first = check(plan, dns.resolver)
    asked1, asked2 = dns.ns1.queries, dns.ns2.queries

    second = check(plan, dns.resolver, previous=first)

    assert (dns.ns1.queries, dns.ns2.queries) == (asked1, asked2 + 1)
    assert second.round == 2
    assert second.queries == 1
    carried = next(r for r in second.results if r.server == dns.server1)
    assert carried.confirmed
    assert not carried.queried


def test_other_values_may_be_present_and_values_compare_exactly(dns: Servers) -> None:
    for zones in (dns.zones1, dns.zones2):
        zones.add(NAME, "TXT", '"old-run"', '"token"', '"Token-B"')
    status = check(dns.plan(("_ACME-Challenge.Example.TEST.", "token")), dns.resolver)
    assert status.done  # extra values around it are fine; the name's case does not matter

    status = check(dns.plan((NAME, "token-b")), dns.resolver)
    assert not status.done  # values are case-sensitive: "Token-B" is not "token-b"
    assert status.visible == 0


def test_multi_string_value_counts_as_one_joined_value(dns: Servers) -> None:
    value = "k" * 300
    for zones in (dns.zones1, dns.zones2):
        zones.add(NAME, "TXT", f'"{"k" * 255}" "{"k" * 45}"')
    assert check(dns.plan((NAME, value)), dns.resolver).done


def test_names_in_different_zones_can_have_different_servers(dns: Servers) -> None:
    dns.zones1.add(NAME, "TXT", '"a"')
    dns.zones2.add(OTHER, "TXT", '"b"')
    plan = Plan.build([(NAME, "a"), (OTHER, "b")], {NAME: [dns.server1], OTHER: [dns.server2]})
    status = check(plan, dns.resolver)
    assert status.done
    assert [s.server for s in status.servers] == [dns.server1, dns.server2]
    assert (dns.ns1.queries, dns.ns2.queries) == (1, 1)


def test_failing_servers_carry_their_reason(dns: Servers) -> None:
    dns.zones1.add(NAME, "TXT", '"v"')
    dns.ns2.behaviour = "servfail"
    status = check(dns.plan((NAME, "v")), dns.resolver)
    lagging = status.lagging[0]
    assert lagging.failing == {NAME: "SERVFAIL"}
    assert lagging.missing == {}
    assert lagging.describe().endswith("0 of 1 records visible (SERVFAIL)")

    dns.ns2.behaviour = "timeout"
    status = check(dns.plan((NAME, "v")), dns.resolver)
    assert status.lagging[0].failing == {NAME: f"timeout after {TIMEOUT:g} s"}


# -- the wait ---------------------------------------------------------------------------------


def test_wait_returns_as_soon_as_every_server_shows_everything(dns: Servers) -> None:
    dns.zones1.add(NAME, "TXT", '"v"')
    clock = FakeClock()
    rounds: list[PropagationStatus] = []

    def publish_on_ns2_after_round_two(status: PropagationStatus) -> None:
        rounds.append(status)
        if status.round == 2:
            dns.zones2.add(NAME, "TXT", '"v"')

    status = wait(
        dns.plan((NAME, "v")),
        dns.resolver,
        timeout=60,
        interval=2,
        clock=clock,
        on_round=publish_on_ns2_after_round_two,
    )

    assert status.done
    assert status.round == 3
    assert [r.visible for r in rounds] == [1, 1, 2]
    assert dns.ns1.queries == 1  # complete in round 1, never asked again
    assert dns.ns2.queries == 3
    assert clock.sleeps == [2, 2]
    assert status.elapsed == 4


def test_wait_with_everything_visible_takes_one_round_and_no_sleep(dns: Servers) -> None:
    for zones in (dns.zones1, dns.zones2):
        zones.add(NAME, "TXT", '"v"')
    clock = FakeClock()
    status = wait(dns.plan((NAME, "v")), dns.resolver, timeout=60, interval=2, clock=clock)
    assert (status.round, clock.sleeps) == (1, [])


def test_wait_timeout_names_lagging_servers_and_missing_values(dns: Servers) -> None:
    dns.zones1.add(NAME, "TXT", '"v1"', '"v2"')
    dns.zones2.add(NAME, "TXT", '"v1"')
    dns.zones1.add(OTHER, "TXT", '"w"')
    dns.zones2.add(OTHER, "TXT", '"w"')
    clock = FakeClock()
    rounds: list[int] = []

    with pytest.raises(PropagationError) as info:
        wait(
            dns.plan((NAME, "v1"), (NAME, "v2"), (OTHER, "w")),
            dns.resolver,
            timeout=5,
            interval=2,
            clock=clock,
            on_round=lambda s: rounds.append(s.round),
        )

    message = str(info.value)
    assert "not visible on every authoritative name server after 5 s" in message
    assert "5 of 6 records visible on 2 name servers" in message
    assert f"lagging: {dns.server2}\n" in message
    assert f'  - {dns.server2}: {NAME}: missing "v2" (1 of 2 values visible)' in message
    assert str(dns.server1) + ":" not in message  # complete servers are not blamed
    assert OTHER not in message
    assert "raise --dns-variomedia-propagation-seconds (now 5)" in message
    assert f"dig +norec TXT {NAME} @127.0.0.3 -p {dns.ns2.port}" in message
    # Rounds at 0, 2, 4 and a last one at the deadline (5).
    assert rounds == [1, 2, 3, 4]
    assert clock.sleeps == [2, 2, 1]


def test_wait_timeout_reports_failure_reasons(dns: Servers) -> None:
    dns.zones1.add(NAME, "TXT", '"v"')
    dns.ns2.behaviour = "refused"
    with pytest.raises(PropagationError) as info:
        wait(
            dns.plan((NAME, "v")),
            dns.resolver,
            timeout=1,
            interval=1,
            clock=FakeClock(),
            timeout_option="--propagation-seconds",
        )
    message = str(info.value)
    assert f"  - {dns.server2}: {NAME}: no usable answer (REFUSED)" in message
    assert "raise --propagation-seconds (now 1)" in message


def test_on_round_can_abort_the_wait(dns: Servers) -> None:
    class Abort(Exception):
        pass

    def abort(status: PropagationStatus) -> None:
        raise Abort(f"stopped in round {status.round}")

    clock = FakeClock()
    with pytest.raises(Abort, match="round 1"):
        wait(
            dns.plan((NAME, "v")), dns.resolver, timeout=60, interval=2, clock=clock, on_round=abort
        )
    assert clock.sleeps == []
    assert (dns.ns1.queries, dns.ns2.queries) == (1, 1)


def test_progress_is_logged_in_plain_words(dns: Servers, caplog: pytest.LogCaptureFixture) -> None:
    dns.zones1.add(NAME, "TXT", '"v1"', '"v2"')
    dns.zones2.add(NAME, "TXT", '"v1"')

    def complete_ns2(status: PropagationStatus) -> None:
        if status.round == 3:
            dns.zones2.add(NAME, "TXT", '"v2"')

    with caplog.at_level(logging.INFO, logger="certbot_dns_variomedia.core.propagation"):
        wait(
            dns.plan((NAME, "v1"), (NAME, "v2")),
            dns.resolver,
            timeout=60,
            interval=2,
            clock=FakeClock(),
            on_round=complete_ns2,
        )

    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    waiting = f"Waiting for {dns.server2}: 1 of 2 records visible"
    assert info.count(waiting) == 1  # logged when it changes, not every round
    assert f"{dns.server1}: all 2 records visible" in info
    assert f"{dns.server2}: all 2 records visible" in info
    # Start and end count the same thing: two records (on two servers each), not four.
    assert info[0].startswith("Waiting up to 60 s until 2 TXT record(s) are visible")
    assert info[-1] == "All 2 TXT record(s) are visible on all 2 name servers after 6.0 s"


# -- plan, arguments, timing logic without DNS ----------------------------------------------------


def test_plan_groups_values_by_normalized_name() -> None:
    ns = NameServer("ns", "127.0.0.2", 5353)
    plan = Plan.build(
        [("_acme-challenge.Example.test.", "a"), (NAME, "b"), (NAME, "a")], {NAME: [ns, ns]}
    )
    assert plan.expectations == (Expectation(NAME, frozenset({"a", "b"}), (ns,)),)
    assert plan.total == 2
    with pytest.raises(ValueError, match=r"no name servers given for _acme-challenge\.other"):
        Plan.build([(OTHER, "x")], {NAME: [ns]})
    with pytest.raises(ValueError, match="no values"):
        Expectation(NAME, frozenset(), (ns,))


class _NeverVisible(Resolver):
    """Answers every TXT query with nothing, without network: for the loop's arithmetic."""

    def __init__(self) -> None:
        super().__init__([NameServer("unused", "127.0.0.1")])
        self.asked = 0

    def query_txt(self, server: NameServer, name: str) -> TxtAnswer:
        self.asked += 1
        return TxtAnswer(server, name, nxdomain=True)


@pytest.mark.parametrize(
    ("timeout", "interval", "sleeps"),
    [(0, 2, []), (5, 2, [2, 2, 1]), (4, 2, [2, 2]), (3, 10, [3])],
)
def test_wait_timing_is_bounded_by_the_deadline(
    timeout: float, interval: float, sleeps: list[float]
) -> None:
    resolver = _NeverVisible()
    clock = FakeClock()
    plan = Plan.build([(NAME, "v")], {NAME: [NameServer("ns", "127.0.0.2")]})
    with pytest.raises(PropagationError):
        wait(plan, resolver, timeout=timeout, interval=interval, clock=clock)
    assert clock.sleeps == sleeps
    assert resolver.asked == len(sleeps) + 1  # one round per sleep, plus the last one


def test_wait_arguments_are_checked() -> None:
    plan = Plan.build([(NAME, "v")], {NAME: [NameServer("ns", "127.0.0.2")]})
    with pytest.raises(ValueError, match="interval"):
        wait(plan, _NeverVisible(), timeout=5, interval=0, clock=FakeClock())
    with pytest.raises(ValueError, match="timeout"):
        wait(plan, _NeverVisible(), timeout=-1, interval=1, clock=FakeClock())


def test_empty_plan_is_done_at_once() -> None:
    clock = FakeClock()
    status = wait(Plan(()), _NeverVisible(), timeout=5, interval=1, clock=clock)
    assert status.done
    assert (status.total, status.queries, clock.sleeps) == (0, 0, [])
