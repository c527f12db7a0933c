"""DNSSEC validation against the loopback DNS server serving zones dnspython signed: a signed
chain from a root of our own, unsigned delegations proven by NSEC and NSEC3 (opt-out too), a
bogus signature, an expired one, an anchor that does not match, and lookups that fail."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import dns.name
import dns.rdatatype
import pytest

from certbot_dns_variomedia.dnssec import (
    ROOT_TRUST_ANCHORS,
    Validator,
    parse_trust_anchors,
)
from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.nameservers import NameServer
from certbot_dns_variomedia.resolver import Resolver
from certbot_dns_variomedia.testing.servers.dns import DNSServer, Lookup
from certbot_dns_variomedia.testing.servers.signed_zones import SignedZones


@pytest.fixture(scope="module")
def zones() -> SignedZones:
    data = SignedZones()
    for origin in (".", "test", "example.test", "plain.test", "nsec3.test", "hashed.test"):
        data.add_zone(origin)
    for origin in (".", "test", "example.test"):
        data.sign(origin)
    data.sign("nsec3.test", nsec3=True, opt_out=True)
    data.sign("hashed.test", nsec3=True)
    for origin in ("child.nsec3.test", "unsigned.hashed.test"):
        data.add_zone(origin)
    data.add("example.test", "MX", "10 mx1.example.test")
    data.add("mx1.example.test", "A", "127.0.0.1")
    data.add("_25._tcp.mx1.example.test", "TLSA", "3 1 1 " + "ab" * 32)
    data.add("alias.example.test", "CNAME", "mx1.example.test")
    data.add("bad.example.test", "A", "127.0.0.2")
    data.break_signatures("bad.example.test", "A")
    for host in ("mx.plain.test", "mx.nsec3.test", "mx.child.nsec3.test"):
        data.add(host, "A", "127.0.0.1")
    data.add("mx.unsigned.hashed.test", "A", "127.0.0.1")
    return data


@pytest.fixture(scope="module")
def resolver(zones: SignedZones) -> Iterator[Resolver]:
    with DNSServer(zones) as server:
        yield Resolver([NameServer("loopback", server.address, server.port)], timeout=2.0)


@pytest.fixture
def validator(zones: SignedZones, resolver: Resolver) -> Validator:
    return Validator(resolver, parse_trust_anchors(zones.trust_anchor("."), "root anchor"))


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("example.test", "MX", ("secure", "example.test", "signed by example.test")),
        ("_25._tcp.mx1.example.test", "TLSA", ("secure", "example.test", "signed by")),
        ("alias.example.test", "A", ("secure", "example.test", "signed by example.test")),
        ("nothing.example.test", "A", ("secure", "example.test", "no A at nothing.example.test")),
        ("mx.plain.test", "A", ("insecure", "plain.test", "test proves it has no DS record")),
        ("mx.nsec3.test", "A", ("secure", "nsec3.test", "signed by nsec3.test")),
        ("mx.child.nsec3.test", "A", ("insecure", "child.nsec3.test", "nsec3.test proves")),
        ("mx.unsigned.hashed.test", "A", ("insecure", "unsigned.hashed.test", "hashed.test")),
        ("bad.example.test", "A", ("bogus", "example.test", "A bad.example.test does not valid")),
    ],
)
def test_states(validator: Validator, name: str, rdtype: str, expected: tuple[str, ...]) -> None:
    state, zone, reason = expected
    found = validator.validate(name, rdtype)
    assert (found.state, found.zone) == (state, zone), found
    assert reason in found.reason, found


def test_the_zone_of_a_name(validator: Validator) -> None:
    assert validator.zone_of("mx1.example.test").zone == "example.test"
    assert validator.zone_of("mx1.example.test").secure
    assert validator.zone_of("mx.plain.test").state == "insecure"


def test_expired_signatures_are_bogus(zones: SignedZones, resolver: Resolver) -> None:
    anchors = parse_trust_anchors(zones.trust_anchor("."), "root anchor")
    later = Validator(resolver, anchors, now=lambda: time.time() + 3 * 86400)
    found = later.validate("example.test", "MX")
    assert found.state == "bogus"
    assert "the signature of DNSKEY ." in found.reason


def test_an_anchor_that_matches_no_key_is_bogus(resolver: Resolver) -> None:
    other = SignedZones()
    other.add_zone(".")
    other.sign(".")
    wrong = Validator(resolver, parse_trust_anchors(other.trust_anchor("."), "anchor"))
    found = wrong.validate("example.test", "MX")
    assert found.state == "bogus"
    assert found.reason == "no DNSKEY of . matches the trust anchor for ."


def test_a_dnskey_anchor_below_the_root(zones: SignedZones, resolver: Resolver) -> None:
    dnskey = resolver.query("test", "DNSKEY")[0]
    anchors = parse_trust_anchors(f"test. 3600 IN DNSKEY {dnskey}", "anchor")
    found = Validator(resolver, anchors).validate("mx1.example.test", "A")
    assert found.secure, found
    assert found.zone == "example.test"


def test_no_anchor_above_the_name_is_indeterminate(zones: SignedZones, resolver: Resolver) -> None:
    only_test = Validator(resolver, parse_trust_anchors(zones.trust_anchor("test"), "anchor"))
    assert only_test.validate("mx1.example.test", "A").secure
    found = only_test.validate("example.org", "MX")
    assert (found.state, found.reason) == ("indeterminate", "no trust anchor covers example.org")


def test_a_failing_server_is_indeterminate(zones: SignedZones) -> None:
    with DNSServer(zones) as server:
        resolver = Resolver([NameServer("x", server.address, server.port)], timeout=1.0)
        validator = Validator(resolver, parse_trust_anchors(zones.trust_anchor("."), "anchor"))
        server.behaviour = "servfail"
        found = validator.validate("example.test", "MX")
    assert found.state == "indeterminate"
    assert "SERVFAIL" in found.reason


class _Stripping:
    """A forwarder that drops every DNSSEC record (no DO support), over the signed zones."""

    def __init__(self, inner: SignedZones) -> None:
        self.inner = inner

    def lookup(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
        return dataclasses.replace(self.inner.lookup(qname, rdtype), signatures=(), denial=())


def test_a_server_that_drops_signatures_is_indeterminate_not_bogus(zones: SignedZones) -> None:
    with DNSServer(_Stripping(zones)) as server:
        resolver = Resolver([NameServer("x", server.address, server.port)], timeout=1.0)
        validator = Validator(resolver, parse_trust_anchors(zones.trust_anchor("."), "anchor"))
        found = validator.validate("example.test", "MX")
    assert found.state == "indeterminate"
    assert found.reason == (
        "the DNS server asked returns no signatures (no RRSIG with the DNSKEY of .): DNSSEC "
        "cannot be checked through it"
    )


def test_the_root_anchors_are_the_iana_keys() -> None:
    anchors = parse_trust_anchors(ROOT_TRUST_ANCHORS, "built in")
    assert set(anchors) == {dns.name.root}
    assert sorted(ds.key_tag for ds in anchors[dns.name.root]) == [20326, 38696]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a record", "anchors.txt is not a list of trust anchors"),
        ("example. IN A 192.0.2.1", "anchors.txt has a A record for example."),
        ("; only a comment\n", "anchors.txt holds no trust anchor"),
    ],
)
def test_bad_anchor_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        parse_trust_anchors(text, "anchors.txt")
    assert "give DS or DNSKEY records" in str(caught.value)
