"""A fake ACME CA on loopback that answers an order with authorizations of its own choosing.

Just enough of RFC 8555 for the ``acme`` library to create an account and an order: a
directory, nonces, ``newAccount``, ``newOrder`` and POST-as-GET of the authorizations. It does
not check signatures; it exists to see what the client does with what a CA says.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_NONCES = itertools.count(1)


class RogueCA:
    """``with RogueCA(["www.other.test"]) as ca: ca.directory_url``; `requests` counts them."""

    def __init__(self, authorize: Sequence[str]) -> None:
        self.authorize = list(authorize)
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="rogue-ca")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def directory_url(self) -> str:
        return f"{self.url}/dir"

    def __enter__(self) -> RogueCA:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        """Status, extra headers and JSON for one request."""
        self.requests.append(f"{method} {path}")
        base = self.url
        if path == "/dir":
            return (
                200,
                {},
                {
                    "newNonce": f"{base}/nonce",
                    "newAccount": f"{base}/account",
                    "newOrder": f"{base}/order",
                    "meta": {},
                },
            )
        if path == "/nonce":
            return 200, {}, None
        if path == "/account":
            return 201, {"Location": f"{base}/account/1"}, {"status": "valid", "contact": []}
        if path == "/order":
            payload = _payload(body)
            return (
                201,
                {"Location": f"{base}/order/1"},
                {
                    "status": "pending",
                    "identifiers": payload["identifiers"],
                    "authorizations": [f"{base}/authz/{i}" for i in range(len(self.authorize))],
                    "finalize": f"{base}/finalize/1",
                },
            )
        if path.startswith("/authz/"):
            name = self.authorize[int(path.rsplit("/", 1)[1])]
            wildcard = name.startswith("*.")
            return (
                200,
                {},
                {
                    "status": "pending",
                    "identifier": {"type": "dns", "value": name.removeprefix("*.")},
                    **({"wildcard": True} if wildcard else {}),
                    "challenges": [
                        {
                            "type": "dns-01",
                            "url": f"{base}/challenge/{path.rsplit('/', 1)[1]}",
                            "token": "rogue-token-0123456789abcdefghijklmnopq",
                            "status": "pending",
                        }
                    ],
                },
            )
        return 404, {}, {"type": "urn:ietf:params:acme:error:malformed", "detail": "no such"}


def _payload(body: bytes) -> Any:
    """The payload of a flattened JWS, as JSON."""
    text = json.loads(body)["payload"]
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _handler(ca: RogueCA) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, document = ca.answer(method, self.path, body)
            data = b"" if document is None else json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Replay-Nonce", f"nonce{next(_NONCES)}")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_HEAD(self) -> None:
            self._reply("HEAD")

        def do_POST(self) -> None:
            self._reply("POST")

    return Handler
