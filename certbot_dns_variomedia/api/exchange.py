"""One HTTP exchange with hard bounds: the whole answer within a deadline, and at most a few MB.

``requests``' read timeout applies to each read, not to the answer: a server that sends one
byte every 2 s holds a run (and certbot's lock) for hours, and a body of 200 MB is read into
memory. Here a watchdog cuts the connection when the deadline passes, in whatever phase the
exchange is (connecting, TLS, headers, body), and the body is read in chunks up to a cap.
"""

from __future__ import annotations

import contextlib
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..http_util import deadline

_CHUNK = 16 * 1024


@dataclass(frozen=True)
class Bounds:
    """What one run may cost at most, whatever a server does.

    With pacing at about one request a second once the first ten are spent, `max_pages` pages
    take under a minute; `deadline` is far beyond any real answer (they are a few KB).
    """

    # Seconds for one whole exchange (connect, headers, body); beyond the read timeout, so a
    # server that does not answer at all still gets the retries of a timeout.
    deadline: float = 45.0
    max_body: int = 4 * 1024 * 1024  # bytes of one answer
    max_pages: int = 50  # pages of one list


class TooSlow(Exception):
    """The answer did not arrive whole within the deadline; the connection was cut."""


class TooLarge(Exception):
    """The answer was larger than the cap; the rest was not read."""


class BoundedAdapter(HTTPAdapter):
    """An adapter that knows every socket it opened, so a watchdog can cut them."""

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        register = self._sockets.add
        self.poolmanager.pool_classes_by_scheme = {
            "http": _pool(HTTPConnectionPool, HTTPConnection, register),
            "https": _pool(HTTPSConnectionPool, HTTPSConnection, register),
        }

    def cut(self) -> None:
        """Shut every socket down: a read blocked in another thread returns at once."""
        for sock in list(self._sockets):
            with contextlib.suppress(OSError, ValueError):
                # The plain socket call, also under TLS: the TLS layer is not thread-safe.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _pool(
    pool: type[HTTPConnectionPool],
    connection: type[HTTPConnection],
    register: Callable[[socket.socket], None],
) -> type[HTTPConnectionPool]:
    class Tracked(connection):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            sock: socket.socket = super()._new_conn()
            register(sock)  # before TLS: a handshake can drip too
            return sock

        def connect(self) -> None:
            super().connect()
            if self.sock is not None:
                register(self.sock)  # the TLS socket that replaced it

    return type(f"Bounded{pool.__name__}", (pool,), {"ConnectionCls": Tracked})


def mount(session: requests.Session) -> BoundedAdapter:
    """Put a `BoundedAdapter` on `session` for http and https; return it."""
    adapter = BoundedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter


def fetch(
    session: requests.Session,
    adapter: BoundedAdapter,
    bounds: Bounds,
    method: str,
    url: str,
    **kwargs: Any,
) -> requests.Response:
    """``session.request`` with the whole exchange bounded; the body read into ``content``.

    Raises `TooSlow` past the deadline, `TooLarge` past the size cap, or what ``requests``
    raises for other failures.
    """
    with deadline(bounds.deadline, adapter.cut) as fired:
        try:
            response = session.request(method, url, stream=True, **kwargs)
            try:
                response._content = _read(response, bounds.max_body)
            finally:
                response.close()
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            if fired.is_set():
                raise TooSlow from None
            raise
    if fired.is_set():  # cut just as the last byte came: the connection is gone anyway
        raise TooSlow
    return response


def _read(response: requests.Response, limit: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    for chunk in response.iter_content(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)
