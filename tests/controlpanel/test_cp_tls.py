"""Certificate probes against real STARTTLS (aiosmtpd) and HTTPS servers on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from certbot_dns_variomedia.controlpanel.certificate import Certificate, name_matches
from certbot_dns_variomedia.controlpanel.tls import probe_https, probe_smtp
from certbot_dns_variomedia.testing.acme.certs import (
    CertificateAuthority,
    IssuedCert,
    self_signed,
    utcnow,
)

from .conftest import Servers, leaf

MX = "mx1.example.test"


def _der_cert(issued: IssuedCert) -> Certificate:
    return Certificate.from_der(issued.certificate.public_bytes(serialization.Encoding.DER))


def test_valid_certificate_over_starttls(
    ca: CertificateAuthority, servers: Servers, tmp_path: Path
) -> None:
    intermediate = ca.intermediate("cp-audit intermediate", filename="inter")
    cert = intermediate.issue([MX, "mail.example.test"], directory=tmp_path)
    server = servers.smtp(cert)
    probe = probe_smtp(MX, "127.0.0.1", port=server.port, ca_bundle=str(ca.cert_path), timeout=5)
    assert probe.connected
    assert probe.starttls is True
    assert probe.tls_version in ("TLSv1.2", "TLSv1.3")
    assert probe.error is None
    assert probe.trusted is True, probe.trust_error
    assert probe.name_matches is True
    assert probe.certificate is not None
    assert probe.certificate.san_dns == (MX, "mail.example.test")
    assert "cp-audit intermediate" in probe.certificate.issuer
    assert 89 < probe.certificate.days_left(utcnow()) <= 90
    assert probe.certificate.sha256 == _der_cert(cert).sha256
    assert "Python SMTP" in probe.banner


def test_expiring_and_expired_keep_a_trusted_chain(
    ca: CertificateAuthority, servers: Servers, tmp_path: Path
) -> None:
    soon = servers.smtp(leaf(ca, tmp_path, [MX], days=3, filename="soon"))
    gone = servers.smtp(leaf(ca, tmp_path, [MX], days=-2, filename="gone"))
    for server, low, high in ((soon, 2.9, 3.0), (gone, -2.1, -1.9)):
        probe = probe_smtp(MX, "127.0.0.1", port=server.port, ca_bundle=str(ca.cert_path))
        assert probe.certificate is not None
        assert low < probe.certificate.days_left(utcnow()) <= high
        # Dates are judged by the audit, not by OpenSSL: the chain itself is fine.
        assert probe.trusted is True


def test_wrong_name(ca: CertificateAuthority, servers: Servers, tmp_path: Path) -> None:
    server = servers.smtp(leaf(ca, tmp_path, ["other.example.test"]))
    probe = probe_smtp(MX, "127.0.0.1", port=server.port, ca_bundle=str(ca.cert_path))
    assert probe.trusted is True
    assert probe.name_matches is False


def test_self_signed(servers: Servers, tmp_path: Path, ca: CertificateAuthority) -> None:
    server = servers.smtp(self_signed(tmp_path, [MX]))
    probe = probe_smtp(MX, "127.0.0.1", port=server.port, ca_bundle=str(ca.cert_path))
    assert probe.certificate is not None
    assert probe.certificate.self_signed
    assert probe.trusted is False
    assert probe.trust_error is not None
    assert "self-signed" in probe.trust_error
    assert probe.name_matches is True


def test_certificate_of_another_ca(
    servers: Servers, tmp_path: Path, ca: CertificateAuthority
) -> None:
    stranger = CertificateAuthority.create(tmp_path / "other", name="Some other CA")
    server = servers.smtp(stranger.issue([MX]))
    probe = probe_smtp(MX, "127.0.0.1", port=server.port, ca_bundle=str(ca.cert_path))
    assert probe.trusted is False
    assert probe.trust_error is not None
    assert "issuer" in probe.trust_error


def test_no_starttls(servers: Servers) -> None:
    server = servers.smtp(None)
    probe = probe_smtp(MX, "127.0.0.1", port=server.port, timeout=5)
    assert probe.connected
    assert probe.starttls is False
    assert probe.certificate is None
    assert probe.error == "the server does not offer STARTTLS"


def test_nothing_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    probe = probe_smtp(MX, "127.0.0.1", port=port, timeout=2)
    assert not probe.connected
    assert probe.error == "cannot connect: connection refused"


def test_data_after_starttls_is_refused() -> None:
    """A server (or a man in the middle) that sends bytes after 220 for STARTTLS."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    replies = [
        b"220 mx ESMTP\r\n",
        b"250-mx\r\n250 STARTTLS\r\n",
        b"220 go ahead\r\n250 injected\r\n",
    ]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            conn.sendall(replies[0])
            for reply in replies[1:]:
                conn.recv(1024)
                conn.sendall(reply)
            with contextlib.suppress(OSError):
                conn.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        probe = probe_smtp(MX, "127.0.0.1", port=listener.getsockname()[1], timeout=5)
    finally:
        thread.join(timeout=5)
        listener.close()
    assert probe.certificate is None
    assert probe.error is not None
    assert "command injection" in probe.error


def test_a_server_that_refuses_at_the_greeting() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"554 no service for you\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        probe = probe_smtp(MX, "127.0.0.1", port=listener.getsockname()[1], timeout=5)
    finally:
        thread.join(timeout=5)
        listener.close()
    assert probe.connected
    assert probe.error is not None
    assert probe.error.startswith("the SMTP server greeted with 554")


def test_https_certificate(ca: CertificateAuthority, servers: Servers, tmp_path: Path) -> None:
    server = servers.https(leaf(ca, tmp_path, ["cp.brand.test"]))
    probe = probe_https(
        "cp.brand.test", "127.0.0.1", port=server.port, ca_bundle=str(ca.cert_path), timeout=5
    )
    assert probe.kind == "https"
    assert probe.starttls is None
    assert probe.trusted is True
    assert probe.name_matches is True
    wrong = probe_https("cp.other.test", "127.0.0.1", port=server.port, timeout=5)
    assert wrong.name_matches is False
    assert wrong.trusted is False  # the system's roots do not know the test CA


def test_ipv6_loopback(ca: CertificateAuthority, servers: Servers, tmp_path: Path) -> None:
    server = servers.smtp(leaf(ca, tmp_path, [MX]), host="::1")
    probe = probe_smtp(MX, "::1", port=server.port, ca_bundle=str(ca.cert_path), timeout=5)
    assert probe.trusted is True
    assert probe.address == "::1"


def test_an_ip_address_host_matches_ip_names(
    ca: CertificateAuthority, servers: Servers, tmp_path: Path
) -> None:
    server = servers.https(leaf(ca, tmp_path, ["localhost", "127.0.0.1"]))
    probe = probe_https("127.0.0.1", "127.0.0.1", port=server.port, ca_bundle=str(ca.cert_path))
    assert probe.name_matches is True


@pytest.mark.parametrize(
    ("names", "host", "expected"),
    [
        (["mx.example.test"], "MX.Example.Test.", True),
        (["*.example.test"], "mx.example.test", True),
        (["*.example.test"], "a.mx.example.test", False),
        (["*.example.test"], "example.test", False),
        (["*.test"], "example.test", False),  # no wildcard right below a top-level label
        (["m*.example.test"], "mx.example.test", False),
        (["192.0.2.1"], "192.0.2.1", True),
        (["mx.example.test"], "192.0.2.1", False),
        (["xn--bcher-kva.example.test"], "bücher.example.test", True),
    ],
)
def test_name_matching(tmp_path: Path, names: list[str], host: str, expected: bool) -> None:
    assert name_matches(_der_cert(self_signed(tmp_path, names, filename="n")), host) is expected


def test_a_server_that_never_greets_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # the kernel accepts; nobody ever speaks
    try:
        probe = probe_smtp(MX, "127.0.0.1", port=listener.getsockname()[1], timeout=0.5)
    finally:
        listener.close()
    assert probe.connected
    assert probe.certificate is None
    assert probe.error == "timed out"
