"""Reading NSEC and NSEC3 records (dnssec_denial.py); signed answers are tested in
test_dnssec.py against the loopback server."""

from __future__ import annotations

import base64

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset

from certbot_dns_variomedia.dnssec_denial import denial_types

NAME = dns.name.from_text("child.example.")


def _nsec3(owner_hash: int, next_hash: int, flags: int, types: str) -> dns.rrset.RRset:
    def b32(value: int) -> str:
        return base64.b32hexencode(value.to_bytes(20, "big")).decode().lower()

    owner = dns.name.from_text(f"{b32(owner_hash)}.example.")
    text = f"1 {flags} 0 - {b32(next_hash)} {types}".rstrip()
    return dns.rrset.from_text_list(owner, 300, "IN", "NSEC3", [text])


def _hash(name: dns.name.Name) -> int:
    return int.from_bytes(base64.b32hexdecode(dns.dnssec.nsec3_hash(name, None, 0, 1)), "big")


def test_an_nsec_speaks_only_about_its_owner() -> None:
    at_name = dns.rrset.from_text_list(NAME, 300, "IN", "NSEC", ["\\000.child.example. NS RRSIG"])
    assert denial_types(at_name, NAME) == {dns.rdatatype.NS, dns.rdatatype.RRSIG}
    assert denial_types(at_name, dns.name.from_text("other.example.")) is None


def test_nsec3_matching_covering_and_neither() -> None:
    hashed = _hash(NAME)
    assert denial_types(_nsec3(hashed, hashed + 1, 0, "A RRSIG"), NAME) == {
        dns.rdatatype.A,
        dns.rdatatype.RRSIG,
    }
    covering = _nsec3(hashed - 1, hashed + 1, 1, "")
    assert denial_types(covering, NAME) == {dns.rdatatype.NS}  # opt-out: may be unsigned
    assert denial_types(_nsec3(hashed - 1, hashed + 1, 0, ""), NAME) is None  # no opt-out
    assert denial_types(_nsec3(hashed + 1, hashed + 2, 1, ""), NAME) is None  # elsewhere
