"""A tiny HTTPS server on loopback that presents a chosen certificate, for the audit tests.

The audit looks at the certificate of the Control Panel host, of a whitelabel domain and of the
MTA-STS policy host, and fetches the policy; the tests need servers that present valid,
expired, wrong-name and self-signed certificates and serve chosen pages. ``sni`` gives further
certificates by server name, so one server (one port) can play several hosts. ``pages`` maps a
path to ``(status, content type, body)``; any other path answers ``ok``. The TLS handshake runs
in the connection's own thread (not in ``accept``), so one client that never finishes its
handshake cannot stall the others.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .service import Service, serve_in_thread, stop_serving

__all__ = ["HTTPSServer"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cp-audit-test/1"

    def setup(self) -> None:
        self.request.settimeout(5)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests look at ``HTTPSServer.handshakes``."""

    server: _TLSHTTPServer

    def do_GET(self) -> None:
        status, kind, body = self.server.owner.pages.get(
            self.path.split("?", 1)[0], (200, "text/plain", b"ok\n")
        )
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TLSHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    context: ssl.SSLContext
    owner: HTTPSServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(5)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return  # a probe that gave up, or refused our certificate: both are fine here
        self.owner.handshakes += 1
        try:
            super().finish_request(tls, client_address)
        except OSError:
            pass
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client closing early is normal for a certificate probe."""


class _TLSHTTPServer6(_TLSHTTPServer):
    address_family = socket.AF_INET6


class HTTPSServer(Service):
    """Serves ``ok`` over HTTPS with the given certificate chain on ``host``, any free port."""

    def __init__(
        self,
        *,
        certfile: str,
        keyfile: str,
        host: str = "127.0.0.1",
        port: int = 0,
        sni: Mapping[str, tuple[str, str]] | None = None,
        pages: Mapping[str, tuple[int, str, bytes]] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(certfile, keyfile)
        self._by_name: dict[str, ssl.SSLContext] = {}
        for name, (other_cert, other_key) in (sni or {}).items():
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(other_cert, other_key)
            self._by_name[name.lower()] = context
        if self._by_name:
            self._context.sni_callback = self._pick
        self.pages: dict[str, tuple[int, str, bytes]] = dict(pages or {})
        self.handshakes = 0
        self._server: _TLSHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _pick(self, tls: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        """The certificate for the server name the client asked for (else the default)."""
        chosen = self._by_name.get((name or "").lower())
        if chosen is not None:
            tls.context = chosen

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the HTTPS server is not running")
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return self.host

    def start(self) -> HTTPSServer:
        cls = _TLSHTTPServer6 if ":" in self.host else _TLSHTTPServer
        server = cls((self.host, self._requested_port), _Handler)
        server.context = self._context
        server.owner = self
        self._server = server
        self._thread = serve_in_thread(server)
        return self

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = None
        self._thread = None
