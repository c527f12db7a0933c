"""A real SMTP server on loopback, with or without STARTTLS, for the mail-gateway audit tests.

It is aiosmtpd's SMTP protocol on an asyncio loop in a thread, bound to a socket made before
the loop starts: the port is ephemeral (no race for a "free" port) and known at once. It accepts
no mail; it is only there to greet, offer STARTTLS and present a certificate.

``StartTLSServer(certfile=..., keyfile=...)`` offers STARTTLS with that certificate chain;
without a certificate it offers none (a gateway that forgot TLS). ``versions=(lowest, highest)``
limits the TLS versions it accepts; a range that reaches below TLS 1.2 also lowers OpenSSL's
security level, which otherwise refuses TLS 1.0/1.1 whatever the range says
(``accepts_old_versions`` tells whether this machine's OpenSSL can serve them at all).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import warnings
from typing import Any

from .service import Service

try:
    from aiosmtpd.smtp import SMTP, TLSSetupException
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "The STARTTLS test server needs aiosmtpd: pip install 'certbot-dns-variomedia[sim]'"
    ) from missing

__all__ = ["StartTLSServer", "accepts_old_versions"]

logger = logging.getLogger(__name__)


def _limit(context: ssl.SSLContext, versions: tuple[ssl.TLSVersion, ssl.TLSVersion]) -> None:
    lowest, highest = versions
    with warnings.catch_warnings():
        # Serving deprecated versions on purpose: the audit must see a server that does.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = lowest
        context.maximum_version = highest
    if lowest < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("ALL:@SECLEVEL=0")


def accepts_old_versions() -> str | None:
    """``None`` if a server here can accept a TLS 1.0 handshake from a client here; else why
    not (tests that need such a server skip with this reason)."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    try:
        for context in (server, client):
            _limit(context, (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1))
        hello = client.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())
        hello.do_handshake()
    except ssl.SSLWantReadError:
        return None
    except (ssl.SSLError, ValueError) as error:
        return f"OpenSSL {ssl.OPENSSL_VERSION} here cannot do TLS 1.0 ({error})"
    return None


class _RefuseAll:
    """The SMTP handler: every recipient is refused, so nothing is ever stored or relayed."""

    async def handle_exception(self, error: Exception) -> str:
        """A refused handshake is what some tests want: no traceback for it; others get one."""
        if isinstance(error, TLSSetupException):
            logger.debug("STARTTLS handshake refused: %s", error.__cause__)
        else:
            logger.error("SMTP session failed", exc_info=error)
        return "421 4.3.0 closing"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        return "550 5.7.1 this test server accepts no mail"


class StartTLSServer(Service):
    """An SMTP server on ``host`` (default 127.0.0.1), any free port unless ``port`` is given.

    ``hostname`` is the name in the greeting and EHLO answer. ``.port``, ``.address``,
    ``.connections`` (accepted so far). Start/stop or use as a context manager.
    """

    def __init__(
        self,
        *,
        certfile: str | None = None,
        keyfile: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        hostname: str = "mx.example.test",
        versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None,
    ) -> None:
        self.host = host
        self.hostname = hostname
        self._requested_port = port
        self._tls: ssl.SSLContext | None = None
        if certfile is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(certfile, keyfile)
            if versions is not None:
                _limit(self._tls, versions)
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._port = 0

    @property
    def starttls(self) -> bool:
        """Whether STARTTLS is offered."""
        return self._tls is not None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the SMTP server is not running")
        return self._port

    @property
    def address(self) -> str:
        return self.host

    def _protocol(self) -> SMTP:
        self.connections += 1
        return SMTP(
            _RefuseAll(),
            hostname=self.hostname,
            tls_context=self._tls,
            require_starttls=False,
            timeout=10,
            loop=self._loop,
        )

    def start(self) -> StartTLSServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            sock.listen(16)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            loop.create_server(self._protocol, sock=sock), loop
        )
        try:
            self._server = future.result(timeout=5)
        except BaseException:
            sock.close()
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = self._server = None
        self._port = 0

    async def _shutdown(self) -> None:
        """Close the listener, then end every open session, so no task outlives the loop."""
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def __repr__(self) -> str:
        tls = "STARTTLS" if self.starttls else "no STARTTLS"
        return f"StartTLSServer({self.host}:{self._port or '-'}, {tls})"
