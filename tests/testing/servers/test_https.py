"""The HTTPS test server (servers/https.py): a certificate per server name, chosen pages."""

from __future__ import annotations

import http.client
import socket
import ssl
from pathlib import Path

from cryptography import x509

from certbot_dns_variomedia.testing.acme.certs import CertificateAuthority
from certbot_dns_variomedia.testing.servers.https import HTTPSServer


def _get(port: int, name: str, ca: Path, path: str) -> tuple[str, int, str, bytes]:
    """The common name presented for ``name``, and the answer to GET ``path``."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        tls = context.wrap_socket(sock, server_hostname=name)
        der = tls.getpeercert(binary_form=True) or b""
        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        connection = http.client.HTTPConnection(name, port, timeout=5)
        connection.sock = tls
        connection.request("GET", path)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
    return subject, answer.status, answer.getheader("Content-Type") or "", body


def test_one_server_plays_several_hosts_and_serves_pages(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path, name="https test CA")
    first = ca.issue(["one.test"], directory=tmp_path)
    second = ca.issue(["two.test"], directory=tmp_path)
    page = (200, "text/plain", b"version: STSv1\n")
    with HTTPSServer(
        certfile=str(first.fullchain_path),
        keyfile=str(first.key_path),
        sni={"TWO.test": (str(second.fullchain_path), str(second.key_path))},
        pages={"/.well-known/mta-sts.txt": page},
    ) as server:
        assert _get(server.port, "one.test", ca.cert_path, "/") == (
            "CN=one.test",
            200,
            "text/plain",
            b"ok\n",
        )
        assert _get(server.port, "two.test", ca.cert_path, "/.well-known/mta-sts.txt") == (
            "CN=two.test",
            *page,
        )
        server.pages["/gone"] = (404, "text/html", b"<p>gone</p>")
        assert _get(server.port, "one.test", ca.cert_path, "/gone")[1:] == (
            404,
            "text/html",
            b"<p>gone</p>",
        )
        assert server.handshakes == 3
