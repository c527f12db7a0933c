"""The loopback authoritative DNS server, queried over real UDP and TCP with dnspython."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from certbot_dns_variomedia.testing.servers.dns import DNSServer, Lookup, StaticZones

TIMEOUT = 2.0


@pytest.fixture
def zones() -> StaticZones:
    zones = StaticZones()
    zones.add_zone("example.test", ns=["ns1.example.test", "ns2.example.test"], minimum=120)
    zones.add("example.test", "A", "192.0.2.1")
    zones.add("example.test", "MX", "10 mail.example.test")
    zones.add("www.example.test", "A", "192.0.2.2", "192.0.2.3", ttl=60)
    zones.add("_acme-challenge.deep.example.test", "TXT", '"token-1"')
    zones.add_zone("other.test")
    zones.add("target.other.test", "TXT", '"delegated"')
    return zones


@pytest.fixture
def server(zones: StaticZones) -> Iterator[DNSServer]:
    server = DNSServer(zones)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def ask(
    server: DNSServer,
    name: str,
    rdtype: str,
    *,
    tcp: bool = False,
    timeout: float = TIMEOUT,
    edns_payload: int | None = None,
) -> dns.message.Message:
    if edns_payload is None:
        query = dns.message.make_query(name, rdtype)
    else:
        query = dns.message.make_query(name, rdtype, use_edns=0, payload=edns_payload)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, server.address, timeout=timeout, port=server.port)


def texts(rrset: dns.rrset.RRset) -> set[str]:
    return {rdata.to_text() for rdata in rrset}


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_answers_authoritatively_over_udp_and_tcp(server: DNSServer, tcp: bool) -> None:
    response = ask(server, "WWW.Example.TEST", "A", tcp=tcp)

    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert response.flags & dns.flags.RD  # copied from the query (dnspython sets RD)
    assert not response.flags & dns.flags.RA  # no recursion offered
    (rrset,) = response.answer
    assert texts(rrset) == {"192.0.2.2", "192.0.2.3"}
    assert rrset.ttl == 60
    assert server.queries == 1


def test_query_without_rd_gets_no_rd(server: DNSServer) -> None:
    query = dns.message.make_query("example.test", "MX")
    query.flags &= ~dns.flags.RD
    response = dns.query.udp(query, server.address, timeout=TIMEOUT, port=server.port)

    assert not response.flags & dns.flags.RD
    assert response.flags & dns.flags.AA
    assert texts(response.answer[0]) == {"10 mail.example.test."}


def test_nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl(server: DNSServer) -> None:
    missing = ask(server, "nope.example.test", "TXT")
    nodata = ask(server, "www.example.test", "TXT")
    empty_non_terminal = ask(server, "deep.example.test", "TXT")

    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert nodata.rcode() == dns.rcode.NOERROR
    assert empty_non_terminal.rcode() == dns.rcode.NOERROR
    for response in (missing, nodata, empty_non_terminal):
        assert response.flags & dns.flags.AA
        assert response.answer == []
        (soa,) = response.authority
        assert soa.rdtype == dns.rdatatype.SOA
        assert soa.name == dns.name.from_text("example.test")
        assert soa.ttl == 120  # min(SOA TTL 300, MINIMUM 120), RFC 2308
        assert soa[0].mname == dns.name.from_text("ns1.example.test")


def test_zone_apex_serves_soa_and_ns(server: DNSServer) -> None:
    response = ask(server, "example.test", "NS")

    assert texts(response.answer[0]) == {"ns1.example.test.", "ns2.example.test."}


def test_outside_every_zone_is_refused_without_aa(server: DNSServer) -> None:
    response = ask(server, "example.org", "A")

    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.AA
    assert response.answer == []


def test_most_specific_zone_answers(zones: StaticZones, server: DNSServer) -> None:
    zones.add_zone("sub.example.test", minimum=60)
    zones.add("x.sub.example.test", "TXT", '"child"')

    found = ask(server, "x.sub.example.test", "TXT")
    missing = ask(server, "y.sub.example.test", "TXT")

    assert texts(found.answer[0]) == {'"child"'}
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].name == dns.name.from_text("sub.example.test")


def test_cname_chain_is_followed_across_own_zones(zones: StaticZones, server: DNSServer) -> None:
    zones.add("_acme-challenge.example.test", "CNAME", "hop.example.test")
    zones.add("hop.example.test", "CNAME", "target.other.test.")

    response = ask(server, "_acme-challenge.example.test", "TXT")

    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert [(str(r.name), r.rdtype) for r in response.answer] == [
        ("_acme-challenge.example.test.", dns.rdatatype.CNAME),
        ("hop.example.test.", dns.rdatatype.CNAME),
        ("target.other.test.", dns.rdatatype.TXT),
    ]
    assert texts(response.answer[2]) == {'"delegated"'}


def test_cname_itself_is_answered_when_asked_for(zones: StaticZones, server: DNSServer) -> None:
    zones.add("alias.example.test", "CNAME", "www.example.test")

    response = ask(server, "alias.example.test", "CNAME")

    assert [r.rdtype for r in response.answer] == [dns.rdatatype.CNAME]


def test_cname_to_a_missing_name_is_nxdomain_with_the_chain(
    zones: StaticZones, server: DNSServer
) -> None:
    zones.add("dangling.example.test", "CNAME", "gone.other.test")

    response = ask(server, "dangling.example.test", "TXT")

    assert response.rcode() == dns.rcode.NXDOMAIN
    assert [r.rdtype for r in response.answer] == [dns.rdatatype.CNAME]
    assert response.authority[0].name == dns.name.from_text("other.test")


def test_cname_leaving_the_servers_zones_ends_with_the_cname(
    zones: StaticZones, server: DNSServer
) -> None:
    zones.add("out.example.test", "CNAME", "elsewhere.example.org")

    response = ask(server, "out.example.test", "A")

    assert response.rcode() == dns.rcode.NOERROR
    assert [r.rdtype for r in response.answer] == [dns.rdatatype.CNAME]
    assert response.authority == []


def test_cname_loop_answers_with_what_it_has(zones: StaticZones, server: DNSServer) -> None:
    zones.add("a.example.test", "CNAME", "b.example.test")
    zones.add("b.example.test", "CNAME", "a.example.test")
    zones.add("self.example.test", "CNAME", "self.example.test")

    started = time.monotonic()
    loop = ask(server, "a.example.test", "TXT")
    itself = ask(server, "self.example.test", "TXT")

    assert time.monotonic() - started < 1.0
    assert loop.rcode() == dns.rcode.NOERROR
    assert [str(r.name) for r in loop.answer] == ["a.example.test.", "b.example.test."]
    assert [str(r.name) for r in itself.answer] == ["self.example.test."]


def test_long_cname_chain_is_cut(zones: StaticZones, server: DNSServer) -> None:
    for i in range(20):
        zones.add(f"c{i}.example.test", "CNAME", f"c{i + 1}.example.test")

    response = ask(server, "c0.example.test", "A")

    assert response.rcode() == dns.rcode.NOERROR
    assert len(response.answer) == 8


def test_wildcard_is_synthesised_for_missing_names_only(
    zones: StaticZones, server: DNSServer
) -> None:
    zones.add("*.example.test", "TXT", '"wild"')

    synthesised = ask(server, "anything.example.test", "TXT")
    below = ask(server, "a.b.example.test", "TXT")
    existing = ask(server, "www.example.test", "TXT")

    assert synthesised.answer[0].name == dns.name.from_text("anything.example.test")
    assert texts(synthesised.answer[0]) == {'"wild"'}
    assert texts(below.answer[0]) == {'"wild"'}
    assert existing.answer == []  # www exists, so no wildcard: NODATA
    assert existing.authority[0].rdtype == dns.rdatatype.SOA


def test_any_returns_every_rrset_at_the_name(server: DNSServer) -> None:
    response = ask(server, "example.test", "ANY", tcp=True)

    assert {r.rdtype for r in response.answer} == {
        dns.rdatatype.SOA,
        dns.rdatatype.NS,
        dns.rdatatype.A,
        dns.rdatatype.MX,
    }


def test_large_answer_is_truncated_on_udp_and_complete_on_tcp(
    zones: StaticZones, server: DNSServer
) -> None:
    values = [f'"value-{i:02d}-{"x" * 50}"' for i in range(40)]
    zones.add("_acme-challenge.example.test", "TXT", *values)
    name = "_acme-challenge.example.test"

    plain = ask(server, name, "TXT")
    small_edns = ask(server, name, "TXT", edns_payload=1232)
    large_edns = ask(server, name, "TXT", edns_payload=4096)
    query = dns.message.make_query(name, "TXT")
    fallback, used_tcp = dns.query.udp_with_fallback(
        query, server.address, timeout=TIMEOUT, port=server.port
    )

    for truncated in (plain, small_edns):
        assert truncated.flags & dns.flags.TC
        assert truncated.answer == []
    assert not large_edns.flags & dns.flags.TC
    assert len(large_edns.answer[0]) == 40
    assert used_tcp
    assert not fallback.flags & dns.flags.TC
    assert texts(fallback.answer[0]) == set(values)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_servfail_and_refused_behaviours(server: DNSServer, tcp: bool) -> None:
    server.behaviour = "servfail"
    failed = ask(server, "example.test", "A", tcp=tcp)
    server.behaviour = "refused"
    refused = ask(server, "example.test", "A", tcp=tcp)
    server.behaviour = "normal"
    answered = ask(server, "example.test", "A", tcp=tcp)

    assert failed.rcode() == dns.rcode.SERVFAIL
    assert refused.rcode() == dns.rcode.REFUSED
    assert answered.rcode() == dns.rcode.NOERROR
    assert answered.answer


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_non_authoritative_behaviour_answers_the_same_without_the_aa_bit(
    server: DNSServer, tcp: bool
) -> None:
    authoritative = ask(server, "example.test", "A", tcp=tcp)
    server.behaviour = "non-authoritative"
    resolver_like = ask(server, "example.test", "A", tcp=tcp)

    assert authoritative.flags & dns.flags.AA
    assert not resolver_like.flags & dns.flags.AA
    assert resolver_like.rcode() == dns.rcode.NOERROR
    assert resolver_like.answer == authoritative.answer


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_timeout_behaviour_drops_queries_but_counts_them(server: DNSServer, tcp: bool) -> None:
    server.behaviour = "timeout"

    with pytest.raises(dns.exception.Timeout):
        ask(server, "example.test", "A", tcp=tcp, timeout=0.3)

    assert server.queries == 1
    server.behaviour = "normal"
    assert ask(server, "example.test", "A").answer


def test_unknown_behaviour_is_rejected(server: DNSServer) -> None:
    with pytest.raises(ValueError, match="behaviour must be one of"):
        server.behaviour = "flaky"  # type: ignore[assignment]


def test_delay_holds_each_answer_without_serialising_queries(server: DNSServer) -> None:
    server.delay = 0.5

    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: ask(server, "example.test", "A"), range(6)))
    elapsed = time.monotonic() - started

    assert all(r.answer for r in responses)
    # Held: at least the delay. Not serialised: far below six delays (3 s), with room for a
    # busy machine's scheduling.
    assert 0.5 <= elapsed < 2.0


def test_malformed_packets_are_ignored(server: DNSServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"\x12\x34garbage", (server.address, server.port))
    with socket.create_connection((server.address, server.port), timeout=TIMEOUT) as tcp:
        tcp.sendall(b"\x00\x05hello")
        tcp.sendall(b"\x00\x03")  # a length prefix, then the client gives up
    reply = dns.message.make_response(dns.message.make_query("example.test", "A"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(reply.to_wire(), (server.address, server.port))  # a response, not a query

    assert ask(server, "example.test", "A").answer
    assert server.queries == 1


def test_several_queries_on_one_tcp_connection(server: DNSServer) -> None:
    with socket.create_connection((server.address, server.port), timeout=TIMEOUT) as sock:
        for name in ("example.test", "www.example.test"):
            dns.query.send_tcp(sock, dns.message.make_query(name, "A"))
            response, _ = dns.query.receive_tcp(sock)
            assert response.answer[0].name == dns.name.from_text(name)

    assert server.queries == 2


def test_stop_frees_the_port_and_is_idempotent(zones: StaticZones) -> None:
    first = DNSServer(zones)
    first.start()
    port = first.port
    assert ask(first, "example.test", "A").answer
    first.stop()
    first.stop()

    with DNSServer(zones, port=port) as second:
        assert second.port == port
        assert ask(second, "example.test", "A", tcp=True).answer
    with pytest.raises(dns.exception.Timeout):
        ask(second, "example.test", "A", timeout=0.2)


def test_start_twice_is_an_error(server: DNSServer) -> None:
    with pytest.raises(RuntimeError, match="only once"):
        server.start()


def test_ipv6_loopback(zones: StaticZones) -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")

    with DNSServer(zones, host="::1") as server:
        assert server.address == "::1"
        assert texts(ask(server, "example.test", "A").answer[0]) == {"192.0.2.1"}
        assert texts(ask(server, "example.test", "A", tcp=True).answer[0]) == {"192.0.2.1"}


def test_static_zones_remove_and_clear(zones: StaticZones, server: DNSServer) -> None:
    zones.remove("www.example.test", "A", "192.0.2.2")
    assert texts(ask(server, "www.example.test", "A").answer[0]) == {"192.0.2.3"}

    zones.remove("www.example.test", "A")
    gone = ask(server, "www.example.test", "A")
    assert gone.rcode() == dns.rcode.NXDOMAIN

    zones.clear("example.test")
    apex = ask(server, "example.test", "SOA")
    assert apex.answer[0].rdtype == dns.rdatatype.SOA
    assert ask(server, "example.test", "MX").answer == []


def test_static_zones_reject_names_outside_zones_and_soa_removal(zones: StaticZones) -> None:
    with pytest.raises(ValueError, match="in no zone"):
        zones.add("host.example.org", "A", "192.0.2.9")
    with pytest.raises(ValueError, match="SOA cannot be removed"):
        zones.remove("example.test", "SOA")


def test_lookup_is_usable_without_a_server(zones: StaticZones) -> None:
    found = zones.lookup(dns.name.from_text("www.example.test"), dns.rdatatype.A)
    refused = zones.lookup(dns.name.from_text("example.org"), dns.rdatatype.A)

    assert found.rcode == dns.rcode.NOERROR
    assert found.soa is None
    assert refused == Lookup.refused()
