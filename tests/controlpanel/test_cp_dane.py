"""DANE as senders apply it, end to end through cp-audit: matches count only when the TLSA
records and the host's addresses validate with DNSSEC (the loopback DNS server signs the zones),
DANE-TA against the chain the gateway sends, bogus signatures."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization

from certbot_dns_variomedia.testing.acme.certs import (
    CertificateAuthority,
    IssuedCert,
    self_signed,
)

from .conftest import MX, World, reasons, run_main


def _spki(cert: IssuedCert) -> str:
    return hashlib.sha256(
        cert.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).hexdigest()


def test_validated_dane_ee_match_makes_expiry_and_chain_moot(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = self_signed(world.tmp_path, [MX], filename="dane")
    world.gateway(cert)
    world.zones.sign("example.test")
    status, out, _ = run_main(world.argv("--json", control_panel=False), capsys)
    assert status == 2  # self-signed and no TLSA: untrusted
    world.zones.add(f"_25._tcp.{MX}", "TLSA", f"3 1 1 {_spki(cert)}")
    status, out, _ = run_main(world.argv("--json", control_panel=False), capsys)
    doc = json.loads(out)
    assert status == 0, (reasons(doc), json.dumps(doc["gateways"]))
    gateway = doc["gateways"][0]
    assert gateway["probes"][0]["dane"]["status"] == "match"
    assert gateway["dnssec"]["dane_effective"] is True
    assert gateway["dnssec"]["tlsa"]["state"] == "secure"
    assert doc["dnssec"]["state"] == "secure"
    notes = [n["message"] for n in doc["verdict"]["notes"]]
    assert any("(DANE-EE, DNSSEC-validated)" in n for n in notes)
    assert any("not trusted" in n for n in notes)


def test_unsigned_dane_ee_match_is_not_effective(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15: senders ignore TLSA records that are not DNSSEC-signed (RFC 7672), so the
    certificate problems keep their full severity and the TLSA records earn a warning."""
    cert = self_signed(world.tmp_path, [MX], filename="unsigned")
    world.gateway(cert)
    world.zones.add(f"_25._tcp.{MX}", "TLSA", f"3 1 1 {_spki(cert)}")
    status, out, _ = run_main(world.argv("--json", control_panel=False), capsys)
    doc = json.loads(out)
    said = reasons(doc)
    assert status == 2, said
    assert any("certificate chain is not trusted: self-signed" in r for r in said), said
    assert (
        f"warning: _25._tcp.{MX}: DANE not effective: the TLSA records are not DNSSEC-validated "
        "(insecure: example.test is not signed: test proves it has no DS record)"
    ) in " ".join(said)
    gateway = doc["gateways"][0]
    assert gateway["probes"][0]["dane"]["status"] == "match"
    assert gateway["dnssec"]["dane_effective"] is False
    assert gateway["dnssec"]["zone"] == {
        "state": "insecure",
        "zone": "example.test",
        "reason": "example.test is not signed: test proves it has no DS record",
    }


def test_bogus_tlsa_signature_is_critical(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    cert = world.leaf([MX])
    world.gateway(cert)
    world.zones.sign("example.test")
    world.zones.add(f"_25._tcp.{MX}", "TLSA", f"3 1 1 {_spki(cert)}")
    world.zones.break_signatures(f"_25._tcp.{MX}", "TLSA")
    status, out, _ = run_main(world.argv(control_panel=False), capsys)
    assert status == 2, out
    assert (
        f"CRITICAL  {MX}: DNSSEC validation fails (bogus): the signature of TLSA _25._tcp.{MX} "
        "does not validate"
    ) in out
    assert "DANE not effective:" not in out  # bogus says more than "not effective"


def test_validated_tlsa_mismatch_is_critical(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.gateway(world.leaf([MX]))
    world.zones.sign("example.test")
    world.zones.add(f"_25._tcp.{MX}", "TLSA", "3 1 1 " + "00" * 32)
    status, out, _ = run_main(world.argv(control_panel=False), capsys)
    assert status == 2
    assert "matches none of the DANE TLSA records: DANE senders will not deliver" in out


def test_dane_ta_matches_the_issuer_the_gateway_sends(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A private CA anchored by DANE-TA: the chain need not reach a public root."""
    private = CertificateAuthority.create(world.tmp_path / "private", name="mail CA")
    issuer = private.intermediate("mail issuing CA", filename="issuing")
    world.gateway(issuer.issue([MX], directory=world.tmp_path))
    world.zones.sign("example.test")
    issuer_spki = hashlib.sha256(
        issuer.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).hexdigest()
    world.zones.add(f"_25._tcp.{MX}", "TLSA", f"2 1 1 {issuer_spki}")
    status, out, _ = run_main(world.argv("--json", control_panel=False), capsys)
    doc = json.loads(out)
    assert status == 0, reasons(doc)
    probe = doc["gateways"][0]["probes"][0]
    assert probe["dane"] == {"status": "ta_match", "matched": f"2 1 1 {issuer_spki}"}
    assert probe["trusted"] is False  # not by --ca-bundle: DANE-TA is what vouches for it
    assert [c["subject"] for c in probe["chain"]] == ["CN=mail issuing CA"]
