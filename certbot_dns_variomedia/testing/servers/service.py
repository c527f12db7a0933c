"""What every server the tests and the sandbox start has in common.

Each one is started and stopped by its owner, and a ``with`` block must stop it even when the
test fails; the helpers for a ``socketserver`` served from a thread sit here too, so that each
server module only says what it serves.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any, TypeVar

__all__ = [
    "QuietDisconnects",
    "Service",
    "free_port",
    "serve_in_thread",
    "stop_serving",
    "stop_signals",
]

logger = logging.getLogger(__name__)

_S = TypeVar("_S", bound="Service")


class Service:
    """``start()`` / ``stop()``, and a ``with`` block that stops whatever happens inside it."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(server: socketserver.BaseServer) -> threading.Thread:
    """Serve from a daemon thread; a short poll interval keeps `stop_serving` quick."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return thread


def stop_serving(server: socketserver.BaseServer | None, thread: threading.Thread | None) -> None:
    """Stop a server started by `serve_in_thread` and free its port; bounded by 5 s."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=5)


class QuietDisconnects(socketserver.BaseServer):
    """A client that hangs up mid-answer (a killed certbot, a timeout) is normal for a test
    server; socketserver would print a traceback for it. Other errors still print one."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("%s hung up before the answer was sent", client_address)
            return
        super().handle_error(request, client_address)


def free_port(host: str = "127.0.0.1", *, count: int = 1) -> list[int]:
    """Ports nobody listens on right now (TCP, on ``host``), all different.

    Between this call and the server's bind another process may take a port; callers that
    start servers handle that by retrying (see :meth:`Pebble.start`).
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event that Ctrl-C, ``kill`` or a closed terminal sets, instead of ending the process.

    A command that serves until it is stopped must still leave its ``with`` blocks, so that its
    servers stop and its files go. Enter this before printing that the servers are ready: a
    signal sent as soon as that line is read must not kill the process on the spot.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
