"""The certificate factory, proven with real TLS and cryptography's path builder."""

from __future__ import annotations

import datetime
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from certbot_dns_variomedia.testing.acme.certs import (
    CertificateAuthority,
    IssuedCert,
    self_signed,
    utcnow,
)

verification = pytest.importorskip("cryptography.x509.verification")


def _verify(ca: CertificateAuthority, leaf: IssuedCert, name: str, at: datetime.datetime) -> None:
    """Verify ``leaf`` for ``name`` at time ``at`` with cryptography's path builder."""
    builder = verification.PolicyBuilder().store(verification.Store([ca.root.certificate]))
    verifier = builder.time(at).build_server_verifier(verification.DNSName(name))
    chain_pem = leaf.chain_path.read_bytes()
    intermediates = x509.load_pem_x509_certificates(chain_pem) if chain_pem else []
    verifier.verify(leaf.certificate, intermediates)


def _sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def test_leaf_has_the_chosen_names_and_verifies_through_an_intermediate(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path, name="Root")
    intermediate = ca.intermediate("Intermediate")
    leaf = intermediate.issue(["localhost", "*.example.org", "127.0.0.1", "::1"])

    assert _sans(leaf.certificate) == (
        ["localhost", "*.example.org"],
        ["127.0.0.1", "::1"],
    )
    cn = leaf.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["localhost"]
    assert x509.load_pem_x509_certificates(leaf.chain_path.read_bytes()) == [
        intermediate.certificate
    ]
    assert x509.load_pem_x509_certificates(leaf.fullchain_path.read_bytes()) == [
        leaf.certificate,
        intermediate.certificate,
    ]
    _verify(ca, leaf, "localhost", utcnow())
    _verify(ca, leaf, "mail.example.org", utcnow())
    with pytest.raises(verification.VerificationError):
        _verify(ca, leaf, "example.net", utcnow())


def test_leaf_signed_by_root_has_an_empty_chain(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path)
    leaf = ca.issue(["a.example"])
    assert leaf.chain_path.read_bytes() == b""
    assert x509.load_pem_x509_certificates(leaf.fullchain_path.read_bytes()) == [leaf.certificate]
    leaf.certificate.verify_directly_issued_by(ca.certificate)
    _verify(ca, leaf, "a.example", utcnow())


def test_validity_window_makes_expired_and_expiring_certificates(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path)
    now = utcnow()
    expired = ca.issue(["old.example"], not_after=now - datetime.timedelta(days=1))
    expiring = ca.issue(["soon.example"], not_after=now + datetime.timedelta(days=3))
    future = ca.issue(["later.example"], not_before=now + datetime.timedelta(days=2))

    assert expired.certificate.not_valid_after_utc < now
    assert expired.certificate.not_valid_before_utc < expired.certificate.not_valid_after_utc
    assert abs(
        expiring.certificate.not_valid_after_utc - (now + datetime.timedelta(days=3))
    ) < datetime.timedelta(seconds=1)
    assert future.certificate.not_valid_before_utc > now

    with pytest.raises(verification.VerificationError):
        _verify(ca, expired, "old.example", now)
    _verify(ca, expiring, "soon.example", now)
    with pytest.raises(verification.VerificationError):
        _verify(ca, expiring, "soon.example", now + datetime.timedelta(days=4))
    with pytest.raises(verification.VerificationError):
        _verify(ca, future, "later.example", now)


def test_common_name_can_be_chosen_or_left_out(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path)
    named = ca.issue(["a.example", "b.example"], common_name="b.example")
    nameless = ca.issue(["c.example"], common_name="")

    assert named.certificate.subject.rfc4514_string() == "CN=b.example"
    assert len(nameless.certificate.subject) == 0
    # RFC 5280: with an empty subject the SAN extension must be critical.
    san = nameless.certificate.extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME
    )
    assert san.critical
    _verify(ca, nameless, "c.example", utcnow())


def test_self_signed_certificate_is_its_own_issuer_and_not_a_ca(tmp_path: Path) -> None:
    cert = self_signed(tmp_path, ["mail.example.org"])
    assert cert.certificate.issuer == cert.certificate.subject
    cert.certificate.verify_directly_issued_by(cert.certificate)
    constraints = cert.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca is False
    assert cert.chain_path.read_bytes() == b""
    assert cert.fullchain_path.read_bytes() == cert.cert_path.read_bytes()

    other_ca = CertificateAuthority.create(tmp_path / "ca")
    with pytest.raises(verification.VerificationError):
        _verify(other_ca, cert, "mail.example.org", utcnow())


def test_key_types_and_private_key_file_mode(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path)
    # A key file that already exists with loose permissions must be tightened, not reused.
    loose = tmp_path / "rsa.example-key.pem"
    loose.write_text("old")
    loose.chmod(0o644)
    rsa_leaf = ca.issue(["rsa.example"], key_type="rsa")
    ec_leaf = ca.issue(["ec.example"])

    assert isinstance(rsa_leaf.private_key, rsa.RSAPrivateKey)
    assert rsa_leaf.private_key.key_size == 2048
    assert isinstance(ec_leaf.private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(ec_leaf.private_key.curve, ec.SECP256R1)
    for path in (rsa_leaf.key_path, ec_leaf.key_path, ca.key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert rsa_leaf.key_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path)
    with pytest.raises(ValueError, match="at least one name"):
        ca.issue([])
    with pytest.raises(ValueError, match="plain file name"):
        ca.issue(["a.example"], filename="../escape")


def test_openssl_accepts_the_files_for_a_tls_handshake(tmp_path: Path) -> None:
    """The PEM files work where they are used: an OpenSSL server and a verifying client."""
    ca = CertificateAuthority.create(tmp_path)
    leaf = ca.intermediate("Intermediate").issue(["localhost", "127.0.0.1"])

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(leaf.fullchain_path, leaf.key_path)
    client_ctx = ssl.create_default_context(cafile=str(ca.cert_path))

    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    server = server_ctx.wrap_bio(server_in, server_out, server_side=True)
    client = client_ctx.wrap_bio(client_in, client_out, server_hostname="localhost")
    for _ in range(10):
        done = 0
        for side in (client, server):
            try:
                side.do_handshake()
                done += 1
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if done == 2:
            break
    peer = client.getpeercert()
    assert peer is not None
    assert ("DNS", "localhost") in peer["subjectAltName"]
