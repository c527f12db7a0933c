"""An HTTPS front for the simulator: TLS on a loopback port, plain bytes to the simulator.

The plugin refuses plain http:// to anything but loopback, so the only way to prove that it
never switches TLS verification off is to give it an https:// URL whose certificate the
system does not trust, and watch it refuse; and to give it one it does trust, and watch it
work, so that the refusal is known to be about trust and nothing else.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading

from certbot_dns_variomedia.testing.servers.service import Service

__all__ = ["TLSRelay"]

_CHUNK = 65536


class TLSRelay(Service):
    """Accepts TLS on 127.0.0.1 with the given certificate; relays each connection to
    ``target`` (host, port) until either side closes. ``handshakes`` counts the completed
    TLS handshakes, ``attempts`` every connection that reached the relay."""

    def __init__(self, target: tuple[str, int], *, certfile: str, keyfile: str) -> None:
        self.target = target
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(certfile, keyfile)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.attempts = 0
        self.handshakes = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> TLSRelay:
        thread = threading.Thread(target=self._accept, name="tls-relay", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.attempts += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            tls = self._context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()  # the client refused our certificate: what some tests want
            return
        with self._lock:
            self.handshakes += 1
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            tls.close()
            return
        with tls, upstream, selectors.DefaultSelector() as selector:
            tls.setblocking(False)
            upstream.setblocking(False)
            selector.register(tls, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, tls)
            while not self._stop.is_set():
                events = selector.select(timeout=0.1)
                # Bytes already decrypted inside the TLS object do not wake the selector.
                if tls.pending():
                    events.append((selector.get_key(tls), selectors.EVENT_READ))
                for key, _ in events:
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    sink: socket.socket = key.data
                    try:
                        data = source.recv(_CHUNK)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    except OSError:
                        return
                    if not data:
                        return
                    with contextlib.suppress(OSError):
                        sink.setblocking(True)
                        sink.sendall(data)
                        sink.setblocking(False)
