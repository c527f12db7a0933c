"""MX, addresses, TLSA, MTA-STS and TLS-RPT through the project's resolver to a loopback DNS
server, and DANE matching of real certificates."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from certbot_dns_variomedia.controlpanel.certificate import Certificate
from certbot_dns_variomedia.controlpanel.dane import TLSARecord, check_tlsa
from certbot_dns_variomedia.controlpanel.maildns import (
    lookup_addresses,
    lookup_mta_sts,
    lookup_mx,
    lookup_tls_rpt,
    lookup_tlsa,
)
from certbot_dns_variomedia.resolver import Resolver
from certbot_dns_variomedia.testing.acme.certs import CertificateAuthority, IssuedCert
from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones

from .conftest import leaf


def test_mx_hosts_in_preference_order(zones: StaticZones, resolver: Resolver) -> None:
    zones.add("example.test", "MX", "20 mx2.example.test", "10 MX1.example.test")
    found = lookup_mx(resolver, "example.test")
    assert [(h.preference, h.host) for h in found.hosts] == [
        (10, "mx1.example.test"),
        (20, "mx2.example.test"),
    ]
    assert not found.implicit
    assert found.error is None


def test_no_mx_means_the_domain_itself(zones: StaticZones, resolver: Resolver) -> None:
    found = lookup_mx(resolver, "example.test")
    assert found.implicit
    assert [h.host for h in found.hosts] == ["example.test"]


def test_null_mx(zones: StaticZones, resolver: Resolver) -> None:
    zones.add("example.test", "MX", "0 .")
    found = lookup_mx(resolver, "example.test")
    assert found.null_mx
    assert found.hosts == ()


def test_a_failing_server_is_an_error_not_an_exception(
    dns_server: DNSServer, resolver: Resolver
) -> None:
    dns_server.behaviour = "servfail"
    found = lookup_mx(resolver, "example.test")
    assert found.error is not None
    assert "SERVFAIL" in found.error
    assert lookup_addresses(resolver, "mx1.example.test").error is not None


def test_addresses_a_and_aaaa(zones: StaticZones, resolver: Resolver) -> None:
    zones.add("mx1.example.test", "A", "127.0.0.1")
    zones.add("mx1.example.test", "AAAA", "::1")
    assert lookup_addresses(resolver, "mx1.example.test").addresses == ("127.0.0.1", "::1")
    assert lookup_addresses(resolver, "none.example.test").addresses == ()


def test_policies_present_and_absent(zones: StaticZones, resolver: Resolver) -> None:
    zones.add("_mta-sts.example.test", "TXT", '"v=STSv1; id=20240501"')
    zones.add("_smtp._tls.example.test", "TXT", '"some other text"')
    sts = lookup_mta_sts(resolver, "example.test")
    assert sts.present
    assert sts.record == "v=STSv1; id=20240501"
    rpt = lookup_tls_rpt(resolver, "example.test")
    assert not rpt.present
    assert rpt.name == "_smtp._tls.example.test"
    zones.add("_smtp._tls.example.test", "TXT", '"v=TLSRPTv1;" " rua=mailto:tls@example.test"')
    joined = lookup_tls_rpt(resolver, "example.test")
    assert joined.present
    assert joined.record == "v=TLSRPTv1; rua=mailto:tls@example.test"


def _cert(issued: IssuedCert) -> Certificate:
    return Certificate.from_der(issued.certificate.public_bytes(serialization.Encoding.DER))


def test_tlsa_from_dns_matches_the_certificate(
    zones: StaticZones, resolver: Resolver, ca: CertificateAuthority, tmp_path: Path
) -> None:
    cert = _cert(leaf(ca, tmp_path, ["mx1.example.test"]))
    full = hashlib.sha256(cert.der).hexdigest()
    zones.add("_25._tcp.mx1.example.test", "TLSA", f"3 1 1 {cert.spki_sha256}", f"3 0 1 {full}")
    tlsa = lookup_tlsa(resolver, "mx1.example.test")
    assert tlsa.name == "_25._tcp.mx1.example.test"
    assert len(tlsa.records) == 2
    result = check_tlsa(tlsa.records, cert)
    assert result.status == "match"
    assert result.ee_match
    assert result.matched is not None
    assert result.matched.usage == 3


def test_dane_outcomes(ca: CertificateAuthority, tmp_path: Path) -> None:
    cert = _cert(leaf(ca, tmp_path, ["mx1.example.test"]))
    other = _cert(leaf(ca, tmp_path, ["mx1.example.test"], filename="other"))
    spki = bytes.fromhex(cert.spki_sha256)
    assert check_tlsa([], cert).status == "none"
    assert check_tlsa([TLSARecord(3, 1, 1, spki)], other).status == "mismatch"
    assert check_tlsa([TLSARecord(3, 1, 0, cert.spki_der)], cert).status == "match"
    assert (
        check_tlsa([TLSARecord(3, 0, 2, hashlib.sha512(cert.der).digest())], cert).status == "match"
    )
    assert check_tlsa([TLSARecord(2, 1, 1, b"\x00" * 32)], cert, None).status == "unchecked"
    assert check_tlsa([TLSARecord(2, 1, 1, b"\x00" * 32)], cert, ()).status == "mismatch"
    assert check_tlsa([TLSARecord(1, 1, 1, spki)], cert).status == "unusable"
    assert str(TLSARecord(3, 1, 1, b"\xab")) == "3 1 1 ab"


def test_dane_ta_needs_an_issuer_that_really_issued(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    issuer = ca.intermediate("issuing CA", filename="issuing")
    cert = _cert(issuer.issue(["mx1.example.test"], directory=tmp_path))
    issuer_cert = Certificate.from_der(issuer.certificate.public_bytes(serialization.Encoding.DER))
    root = Certificate.from_der(ca.certificate.public_bytes(serialization.Encoding.DER))
    by_issuer = TLSARecord(2, 1, 1, bytes.fromhex(issuer_cert.spki_sha256))
    by_root = TLSARecord(2, 0, 1, bytes.fromhex(root.sha256))
    assert check_tlsa([by_issuer], cert, (issuer_cert,)).status == "ta_match"
    assert check_tlsa([by_root], cert, (issuer_cert, root)).status == "ta_match"
    assert check_tlsa([by_root], cert, (issuer_cert,)).status == "mismatch"  # root not sent
    # The anchor appended to a chain it did not issue does not count.
    stranger = _cert(leaf(ca, tmp_path, ["mx1.example.test"], filename="stranger"))
    assert check_tlsa([by_issuer], stranger, (issuer_cert,)).status == "mismatch"
