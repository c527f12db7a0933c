"""resolver.py against real DNS servers on loopback.

Topology: a bootstrap server on 127.0.0.1 (plays the recursive resolver: it holds the
delegation data, NS and A/AAAA records) and two authoritative servers ns1/ns2 on 127.0.0.2 and
127.0.0.3, both on the same port (the resolver's authoritative port), each with its own copy of
the zone so a record can be on one and not yet on the other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.nameservers import NameServer
from certbot_dns_variomedia.resolver import (
    DNSLookupError,
    Resolver,
    normalize_name,
    parse_nameservers,
    txt_value,
)
from certbot_dns_variomedia.testing.servers.dns import DNSServer, Lookup, StaticZones

ZONE = "example.test"
NAME = "_acme-challenge.example.test"
TIMEOUT = 0.5  # per query; loopback answers in microseconds, so this only bounds failures


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = _ipv6_loopback()


@dataclass
class Net:
    """The servers of one test, their data, and a resolver pointed at them."""

    bootstrap: DNSServer
    bootstrap_zones: StaticZones
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


def _zone_copy() -> StaticZones:
    zones = StaticZones()
    zones.add_zone(ZONE, ["ns1.example.test", "ns2.example.test"])
    return zones


def _start_pair(zones1: StaticZones, zones2: StaticZones) -> tuple[DNSServer, DNSServer]:
    """ns1 and ns2 on one port (the resolver asks every authoritative server on the same port)."""
    for _ in range(20):
        ns1 = DNSServer(zones1, host="127.0.0.2")
        ns1.start()
        ns2 = DNSServer(zones2, host="127.0.0.3", port=ns1.port)
        try:
            ns2.start()
        except OSError as exc:
            ns1.stop()
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        return ns1, ns2
    raise RuntimeError("no port free on both 127.0.0.2 and 127.0.0.3")


@pytest.fixture
def net() -> Iterator[Net]:
    boot_zones = StaticZones()
    boot_zones.add_zone(ZONE, ["ns1.example.test", "ns2.example.test"])
    boot_zones.add("ns1.example.test", "A", "127.0.0.2")
    boot_zones.add("ns2.example.test", "A", "127.0.0.3")
    zones1, zones2 = _zone_copy(), _zone_copy()
    with contextlib.ExitStack() as stack:
        bootstrap = stack.enter_context(DNSServer(boot_zones))
        ns1, ns2 = _start_pair(zones1, zones2)
        stack.callback(ns1.stop)
        stack.callback(ns2.stop)
        resolver = Resolver(
            [NameServer("bootstrap", "127.0.0.1", bootstrap.port)], timeout=TIMEOUT, port=ns1.port
        )
        yield Net(bootstrap, boot_zones, ns1, ns2, zones1, zones2, resolver)


@contextlib.contextmanager
def _one_shot_udp_server(
    respond: Callable[[dns.message.Message], dns.message.Message],
) -> Iterator[tuple[int, list[dns.message.Message]]]:
    """A UDP socket on 127.0.0.1 answering one query with ``respond(query)``; no TCP listener.

    For what DNSServer deliberately cannot do: show the raw query, or truncate without TCP.
    """
    received: list[dns.message.Message] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    def serve() -> None:
        with contextlib.suppress(OSError):
            wire, peer = sock.recvfrom(65535)
            query = dns.message.from_wire(wire)
            received.append(query)
            sock.sendto(respond(query).to_wire(), peer)

    thread = threading.Thread(target=serve, name="one-shot-udp")
    thread.start()
    try:
        yield sock.getsockname()[1], received
    finally:
        thread.join(timeout=6)
        sock.close()


# -- discovery of the authoritative servers ---------------------------------------------------


def test_authoritative_servers_are_found_through_the_bootstrap_server(net: Net) -> None:
    if HAS_IPV6:
        net.bootstrap_zones.add("ns2.example.test", "AAAA", "::1")

    servers = net.resolver.authoritative_servers("Example.TEST.")

    expected = [net.server1, net.server2]
    if HAS_IPV6:
        expected.append(NameServer("ns2.example.test", "::1", net.ns1.port))
    assert servers == expected
    assert net.bootstrap.queries >= 3  # NS, then A and AAAA per host
    assert net.ns1.queries == 0  # discovery asks the bootstrap server only


def test_zone_without_ns_records_is_an_error_naming_the_zone(net: Net) -> None:
    net.bootstrap_zones.add("www.example.test", "A", "127.0.0.9")
    with pytest.raises(DNSLookupError, match=r"zone www\.example\.test: it has no NS records"):
        net.resolver.authoritative_servers("www.example.test")
    with pytest.raises(DNSLookupError, match=r"zone missing\.example\.test: it has no NS"):
        net.resolver.authoritative_servers("missing.example.test")


def test_failing_bootstrap_server_is_reported_with_zone_and_reason(net: Net) -> None:
    net.bootstrap.behaviour = "servfail"
    with pytest.raises(DNSLookupError) as info:
        net.resolver.authoritative_servers(ZONE)
    message = str(info.value)
    assert "name servers of zone example.test" in message
    assert f"127.0.0.1:{net.bootstrap.port} SERVFAIL" in message


def test_name_server_without_address_is_left_out_or_fatal(
    net: Net, caplog: pytest.LogCaptureFixture
) -> None:
    net.bootstrap_zones.remove("ns2.example.test", "A")
    with caplog.at_level(logging.WARNING, logger="certbot_dns_variomedia.resolver"):
        assert net.resolver.authoritative_servers(ZONE) == [net.server1]
    assert "ns2.example.test has no A or AAAA record" in caplog.text

    net.bootstrap_zones.remove("ns1.example.test", "A")
    with pytest.raises(DNSLookupError, match=r"No usable name server for zone example\.test"):
        net.resolver.authoritative_servers(ZONE)


# -- asking one server directly -----------------------------------------------------------------


def test_txt_on_one_server_but_not_the_other_then_on_both(net: Net) -> None:
    net.zones1.add(NAME, "TXT", '"token-1"')

    first, second = (net.resolver.query_txt(s, NAME) for s in (net.server1, net.server2))
    assert first.values == {"token-1"}
    assert not first.failed
    assert second.values == frozenset()
    assert second.nxdomain
    assert not second.failed

    net.zones2.add(NAME, "TXT", '"token-1"')
    assert net.resolver.query_txt(net.server2, NAME).values == {"token-1"}


def test_query_is_sent_without_recursion_to_the_server_asked(net: Net) -> None:
    def answer(query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "TXT", "v"))
        return response

    before = (net.ns1.queries, net.ns2.queries, net.bootstrap.queries)
    with _one_shot_udp_server(answer) as (port, received):
        result = net.resolver.query_txt(NameServer("probe", "127.0.0.1", port), NAME)

    assert result.values == {"v"}
    assert len(received) == 1
    assert not received[0].flags & dns.flags.RD
    assert received[0].edns == 0
    assert received[0].payload == 1232
    assert (net.ns1.queries, net.ns2.queries, net.bootstrap.queries) == before


def test_extra_values_and_multi_string_txt(net: Net) -> None:
    long_value = "a" * 300  # more than 255 octets: stored as two character-strings
    net.zones1.add(NAME, "TXT", '"other-run"', f'"{"a" * 255}" "{"a" * 45}"', '"x" "y" "z"')

    answer = net.resolver.query_txt(net.server1, NAME)

    assert answer.values == {"other-run", long_value, "xyz"}


def test_nodata_differs_from_nxdomain(net: Net) -> None:
    net.zones1.add(NAME, "A", "127.0.0.9")
    answer = net.resolver.query_txt(net.server1, NAME)
    assert answer.values == frozenset()
    assert not answer.nxdomain
    assert answer.describe() == "no TXT record"
    assert net.resolver.query_txt(net.server1, "nx.example.test").describe() == "NXDOMAIN"


def test_cname_inside_the_answer_is_followed(net: Net) -> None:
    net.zones1.add(NAME, "CNAME", "_acme-challenge.target.example.test")
    net.zones1.add("_acme-challenge.target.example.test", "TXT", '"via-cname"')
    assert net.resolver.query_txt(net.server1, NAME).values == {"via-cname"}


def test_truncated_udp_answer_is_asked_again_over_tcp(net: Net) -> None:
    values = [f"value-{i:03d}-{'x' * 40}" for i in range(40)]  # ~2 kB: beyond the 1232 payload
    net.zones1.add(NAME, "TXT", *(f'"{v}"' for v in values))
    before = net.ns1.queries

    answer = net.resolver.query_txt(net.server1, NAME)

    assert answer.tcp
    assert answer.values == frozenset(values)
    assert net.ns1.queries - before == 2  # the UDP query, then the TCP one


def test_server_failures_are_reported_with_a_reason(net: Net) -> None:
    net.ns2.behaviour = "servfail"
    assert net.resolver.query_txt(net.server2, NAME).error == "SERVFAIL"

    net.ns2.behaviour = "refused"
    refused = net.resolver.query_txt(net.server2, NAME)
    assert refused.error == "REFUSED"
    assert refused.failed
    assert refused.values == frozenset()

    net.ns2.behaviour = "timeout"
    timed_out = net.resolver.query_txt(net.server2, NAME)
    assert timed_out.error == f"timeout after {TIMEOUT:g} s"
    assert timed_out.describe() == timed_out.error

    # Outside its zones the server refuses: a name server that does not serve the zone.
    net.ns2.behaviour = "normal"
    assert net.resolver.query_txt(net.server2, "_acme-challenge.other.test").error == "REFUSED"


def test_network_error_is_reported_not_raised(net: Net) -> None:
    # Port 0 cannot be sent to: the kernel refuses before any packet leaves.
    answer = net.resolver.query_txt(NameServer("nowhere", "127.0.0.1", 0), NAME)
    assert answer.error is not None
    assert answer.error.startswith("network error: ")


def test_tcp_retry_failure_is_reported(net: Net) -> None:
    """A server that truncates over UDP and has no TCP: the TCP error is the reason."""

    def truncated(query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.TC | dns.flags.AA
        return response

    with _one_shot_udp_server(truncated) as (port, received):
        answer = net.resolver.query_txt(NameServer("tc-only", "127.0.0.1", port), NAME)

    assert len(received) == 1
    assert answer.tcp
    assert answer.error == "network error: Connection refused"


def test_answer_without_aa_bit_does_not_count(net: Net) -> None:
    class NotAuthoritative:
        def lookup(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
            return dataclasses.replace(net.zones1.lookup(qname, rdtype), authoritative=False)

    net.zones1.add(NAME, "TXT", '"cached"')
    with DNSServer(NotAuthoritative()) as cache:
        answer = net.resolver.query_txt(NameServer("cache", "127.0.0.1", cache.port), NAME)
    assert answer.values == frozenset()
    assert answer.error == f"not authoritative for {NAME} (AA bit not set)"


def test_names_are_normalized(net: Net) -> None:
    net.zones1.add("_acme-challenge.xn--bcher-kva.example.test", "TXT", '"idn"')
    answer = net.resolver.query_txt(net.server1, "_ACME-challenge.Bücher.Example.Test.")
    assert answer.name == "_acme-challenge.xn--bcher-kva.example.test"
    assert answer.values == {"idn"}

    assert normalize_name("Bücher.Example.DE.") == "xn--bcher-kva.example.de"
    assert normalize_name("_acme-challenge.EXAMPLE.de") == "_acme-challenge.example.de"
    assert normalize_name(dns.name.from_text("A.B.")) == "a.b"
    for bad in ("", ".", "a..b", "x" * 64 + ".de"):
        with pytest.raises(ConfigurationError):
            normalize_name(bad)


# -- recursive-style lookups --------------------------------------------------------------------


def test_cname_target_is_the_first_link_only(net: Net) -> None:
    net.bootstrap_zones.add(NAME, "CNAME", "_acme-challenge.Validation.example.test")
    net.bootstrap_zones.add(
        "_acme-challenge.validation.example.test", "CNAME", "final.example.test"
    )
    assert net.resolver.cname_target("_ACME-challenge.example.test.") == (
        "_acme-challenge.validation.example.test"
    )
    assert net.resolver.cname_target("final.example.test") is None  # NXDOMAIN
    net.bootstrap_zones.add("plain.example.test", "TXT", '"x"')
    assert net.resolver.cname_target("plain.example.test") is None  # NODATA


def test_generic_query_for_mx_tlsa_and_txt(net: Net) -> None:
    zones = net.bootstrap_zones
    zones.add("example.test", "MX", "10 mail.example.test", "20 backup.example.test")
    digest = "ab" * 32
    zones.add("_25._tcp.mail.example.test", "TLSA", f"3 1 1 {digest}")
    zones.add("_dmarc.example.test", "TXT", '"v=DMARC1; " "p=reject"')

    mx = net.resolver.query("example.test", "MX")
    assert sorted((getattr(r, "preference", 0), str(getattr(r, "exchange", ""))) for r in mx) == [
        (10, "mail.example.test."),
        (20, "backup.example.test."),
    ]
    tlsa = net.resolver.query("_25._tcp.mail.example.test", dns.rdatatype.TLSA)
    assert [getattr(r, "cert", b"").hex() for r in tlsa] == [digest]
    dmarc = net.resolver.query("_dmarc.example.test", "TXT")
    assert [txt_value(r) for r in dmarc] == ["v=DMARC1; p=reject"]
    assert net.resolver.query("nothing.example.test", "MX") == []
    assert net.resolver.query("example.test", "TLSA") == []


def test_whole_message_tells_nxdomain_from_nodata_and_asks_for_dnssec(net: Net) -> None:
    net.bootstrap_zones.add("example.test", "MX", "10 mail.example.test")
    nodata = net.resolver.message("example.test", "TLSA")
    assert (nodata.rcode(), nodata.answer) == (dns.rcode.NOERROR, [])
    missing = net.resolver.message("nothing.example.test", "MX", dnssec=True)
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.ednsflags & dns.flags.DO  # the server saw the DO bit and echoed it
    assert net.resolver.message("example.test", "MX").answer[0][0].preference == 10
    net.bootstrap.behaviour = "servfail"
    with pytest.raises(DNSLookupError, match="SERVFAIL"):
        net.resolver.message("example.test", "MX", dnssec=True)


def test_generic_query_failure_raises_with_reason(net: Net) -> None:
    net.bootstrap.behaviour = "timeout"
    with pytest.raises(DNSLookupError, match=r"MX lookup for example\.test failed: no answer"):
        net.resolver.query("example.test", "MX")


# -- parse_nameservers --------------------------------------------------------------------------


def test_parse_nameservers_accepts_addresses_names_and_ports(net: Net) -> None:
    net.bootstrap_zones.add("ns2.example.test", "AAAA", "::1")
    servers = parse_nameservers(
        " 127.0.0.9 , ns1.example.test:5353, [::1]:5300, 2001:db8::0001, NS2.Example.Test.",
        resolver=net.resolver,
    )
    assert servers == [
        NameServer("127.0.0.9", "127.0.0.9", 53),
        NameServer("ns1.example.test", "127.0.0.2", 5353),
        NameServer("::1", "::1", 5300),
        NameServer("2001:db8::1", "2001:db8::1", 53),
        NameServer("ns2.example.test", "127.0.0.3", 53),
        NameServer("ns2.example.test", "::1", 53),
    ]
    assert parse_nameservers("127.0.0.1:5353,127.0.0.1:5353") == [
        NameServer("127.0.0.1", "127.0.0.1", 5353)
    ]
    assert parse_nameservers("127.0.0.1", port=5300)[0].port == 5300


@pytest.mark.parametrize(
    "spec",
    ["ns1:abc", "a b", "[::1", "[::1]:", "127.0.0.1:0", "host:99999", "[127.0.0.1]:53", "-x.test"],
)
def test_parse_nameservers_rejects_malformed_items(spec: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_nameservers(f"127.0.0.1,{spec}")
    assert str(info.value) == f"{spec!r} in --dns-variomedia-nameservers is not host[:port]"


def test_parse_nameservers_rejects_empty_and_unresolvable(net: Net) -> None:
    with pytest.raises(ConfigurationError, match="is empty"):
        parse_nameservers(" , ")
    with pytest.raises(
        ConfigurationError,
        match=r"'nx\.example\.test:53' in --ns does not resolve: nx\.example\.test has no A",
    ):
        parse_nameservers("nx.example.test:53", resolver=net.resolver, option="--ns")
    net.bootstrap.behaviour = "servfail"
    with pytest.raises(ConfigurationError, match=r"does not resolve: A lookup .* SERVFAIL"):
        parse_nameservers("ns1.example.test", resolver=net.resolver)


def test_resolver_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Resolver([NameServer("x", "127.0.0.1")], timeout=0)
    with pytest.raises(ValueError, match="at least one server"):
        Resolver([])
    assert "system" in repr(Resolver())
