"""What the simulated name servers serve, asked over real DNS: each publishes a finished write
its own delay later; zones, delegation and long TXT values."""

from __future__ import annotations

import time
from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimNameServer,
    VariomediaSimulator,
)

from .conftest import TIMEOUT, Api, Launch, dig, txt


def test_publishing_in_real_time_reaches_ns1_before_ns2(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    sim = launch(
        SimConfig(
            rate_limit=None,
            job_delay=0.1,
            nameservers=[
                SimNameServer("ns1.variomedia.test"),
                SimNameServer("ns2.variomedia.test", delay=0.4),
            ],
        )
    )
    api = connect(sim)
    name = "_acme-challenge.example.test"

    def wait_for(index: int, expected: list[str]) -> float:
        deadline = time.monotonic() + 3
        while txt(dig(sim, index, name)) != expected:
            assert time.monotonic() < deadline, f"ns{index + 1} never served {expected}"
            time.sleep(0.02)
        return time.monotonic()

    started = time.monotonic()
    record_id, _ = api.create_ok("_acme-challenge", "token-1")
    assert txt(dig(sim, 0, name)) == []
    on_ns1 = wait_for(0, ["token-1"])
    assert txt(dig(sim, 1, name)) == []  # ns2 lags 0.4 s behind
    on_ns2 = wait_for(1, ["token-1"])
    assert 0.1 <= on_ns1 - started < 0.4
    assert on_ns2 - started >= 0.5

    deleting = time.monotonic()
    assert api.delete(f"/dns-records/{record_id}").status_code == 202
    assert txt(dig(sim, 1, name)) == ["token-1"]
    gone_ns1 = wait_for(0, [])
    assert txt(dig(sim, 1, name)) == ["token-1"]
    gone_ns2 = wait_for(1, [])
    assert gone_ns2 - deleting >= 0.5 > gone_ns1 - deleting


def test_publishing_timeline_per_name_server(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: FakeClock
) -> None:
    sim = launch(
        SimConfig(
            rate_limit=None,
            nameservers=[
                SimNameServer("ns1.variomedia.test"),
                SimNameServer("ns2.variomedia.test", delay=0.3),
                SimNameServer("ns3.variomedia.test", delay=0.0, publish=False),
            ],
        ),
        clock=clock,
    )
    api = connect(sim)
    name = "_acme-challenge.example.test"
    serial_before = dig(sim, 0, "example.test", "SOA").answer[0][0].serial

    record_id, _ = api.create_ok("_acme-challenge", "v1")
    seen = []
    for step in (0.1, 0.1, 0.2, 0.1):
        clock.advance(step)
        seen.append([sim.visible(i, name) for i in range(3)])

    assert seen == [
        [[], [], []],  # t=0.1: job pending
        [["v1"], [], []],  # t=0.2: job done, ns1 publishes
        [["v1"], [], []],  # t=0.4
        [["v1"], ["v1"], []],  # t=0.5: ns2 (0.3 s later); ns3 never publishes
    ]
    response = dig(sim, 1, name)
    assert response.flags & dns.flags.AA
    assert txt(response) == ["v1"]
    assert response.answer[0].ttl == 3600
    assert dig(sim, 0, "example.test", "SOA").answer[0][0].serial == serial_before + 1
    assert txt(dig(sim, 2, "example.test")) == ["v=spf1 include:_spf.variomedia.test ~all"]

    api.delete(f"/dns-records/{record_id}")
    clock.advance(0.2)
    assert [sim.visible(i, name) for i in range(3)] == [[], ["v1"], []]
    clock.advance(0.3)
    assert [sim.visible(i, name) for i in range(3)] == [[], [], []]
    assert dig(sim, 0, name).rcode() == dns.rcode.NXDOMAIN


def test_zones_have_soa_and_ns_and_refuse_foreign_names(sim: VariomediaSimulator) -> None:
    ns = dig(sim, 0, "other.test", "NS")
    soa = dig(sim, 1, "example.test", "SOA")
    foreign = dig(sim, 0, "example.org", "A")

    assert {r.to_text() for r in ns.answer[0]} == {"ns1.variomedia.test.", "ns2.variomedia.test."}
    assert soa.answer[0][0].mname == dns.name.from_text("ns1.variomedia.test")
    assert foreign.rcode() == dns.rcode.REFUSED


def test_name_servers_are_found_by_name_on_distinct_addresses(launch: Launch) -> None:
    sim = launch(SimConfig(rate_limit=None, dns_addresses=["127.0.0.2", "127.0.0.3"]))

    ports = {ns.rsplit(":", 1)[1] for ns in sim.nameservers}
    address = dig(sim, 0, "ns2.variomedia.test", "A").answer[0][0].address
    port = int(ports.pop())
    answer = dns.query.udp(
        dns.message.make_query("example.test", "SOA"), address, port=port, timeout=TIMEOUT
    )

    assert [ns.rsplit(":", 1)[0] for ns in sim.nameservers] == ["127.0.0.2", "127.0.0.3"]
    assert address == "127.0.0.3"
    assert answer.answer[0].rdtype == dns.rdatatype.SOA
    assert sim.dns_servers[1].queries == 1


def test_cname_delegation_to_another_account_zone(
    sim: VariomediaSimulator, api: Api, clock: FakeClock
) -> None:
    sim.add_record("example.test", "_acme-challenge", "CNAME", "_acme-challenge.other.test.")
    api.create_ok("_acme-challenge", "delegated", domain="other.test")
    clock.advance(1)

    response = dig(sim, 0, "_acme-challenge.example.test")

    assert [r.rdtype for r in response.answer] == [dns.rdatatype.CNAME, dns.rdatatype.TXT]
    assert txt(response) == ["delegated"]


def test_seeded_records_are_visible_at_once_and_checked(sim: VariomediaSimulator) -> None:
    seeded = sim.add_record("example.test", "_acme-challenge", "TXT", "old", tags=["custom", "x"])

    assert sim.visible(0, "_acme-challenge.example.test") == ["old"]
    assert sim.visible(1, "_acme-challenge.example.test") == ["old"]
    assert seeded.tags == ("custom", "x")
    assert seeded.source == "seeded"
    with pytest.raises(ValueError, match="Not ACE-encodable"):
        sim.add_record("example.test", "bad name", "TXT", "x")


def test_long_txt_values_are_split_into_strings(sim: VariomediaSimulator, api: Api) -> None:
    value = "k" * 600
    sim.add_record("example.test", "long", "TXT", value)

    (rdata,) = dig(sim, 0, "long.example.test").answer[0]

    assert [len(s) for s in rdata.strings] == [255, 255, 90]
    assert sim.visible(0, "long.example.test") == [value]
