"""A tiny HTTPS server on loopback that presents a chosen certificate, for the audit tests.

The audit looks at the certificate of the Control Panel host and of a whitelabel domain; the
tests need servers that present valid, expired, wrong-name and self-signed certificates. The
TLS handshake runs in the connection's own thread (not in ``accept``), so one client that
never finishes its handshake cannot stall the others.
"""

from __future__ import annotations

import socket
import ssl
import threading
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

    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
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
        self, *, certfile: str, keyfile: str, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.host = host
        self._requested_port = port
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(certfile, keyfile)
        self.handshakes = 0
        self._server: _TLSHTTPServer | None = None
        self._thread: threading.Thread | None = None

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
