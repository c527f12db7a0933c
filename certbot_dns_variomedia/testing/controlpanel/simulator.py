"""A simulator of the mail-security Control Panel API, on loopback, for tests and demos.

It follows the getting-started guide (``/api/v0/`` paths, headers, error shape) and the facts
collected from public connectors (offset/limit paging, the 3089 refusal of search windows with
too many results, two shapes of e-mail documents). Where the real API's details are unknown —
error ids other than 2009 and 3089, the status codes of header errors — the choices are the
simulator's own and are named as such below; the client must not depend on them.

Simulator choices for errors (all in the documented shape
``{"error_data", "error_message", "error_id", "status_code"}``):

==========================================  ======  ========  ====================================
situation                                   status  error_id  error_data
==========================================  ======  ========  ====================================
``app-id``/``app-version``/``cp-token``      403     1001      ``{"<header>": ["..."]}``
missing or wrong
``authorization`` missing or not a session   401     1004      ``{"authorization": ["..."]}``
login refused                               401     1005      ``{"non_field_errors": ["..."]}``
``object_id`` missing / not an integer       400     2009      ``{"object_id": ["This field ..."]}``
body field missing or malformed              400     2009      ``{"<field>": ["..."]}``
``object_id`` outside the login's scope      403     1003      ``{}``
search window with ≥ ``window_limit`` hits   400     3089      ``{}``
rate limit (``faults.rate_limit``, or more   429     1429      ``{}`` + ``Retry-After``
than ``rate_limit`` requests in 1 s)
unknown path                                 404     1404      ``{}``
==========================================  ======  ========  ====================================

Search windows are inclusive at both ends (``date_from <= date <= date_to``), so a client that
splits windows sees the e-mails of the shared second twice and must drop the copy.

Run it from the command line with ``python -m certbot_dns_variomedia.testing.controlpanel``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import random
import secrets
import signal
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from ..servers.service import QuietDisconnects, Service, serve_in_thread, stop_serving

__all__ = [
    "CLASSIFICATIONS",
    "ControlPanelSimConfig",
    "ControlPanelSimulator",
    "LoggedRequest",
    "SimFaults",
    "make_email",
]

UTC = datetime.timezone.utc
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

CLASSIFICATIONS: Mapping[int, str] = {
    2: "clean",
    1: "spam",
    11: "info",
    8: "content",
    12: "atp",
    5: "virus",
    3: "rejected",
}
"""Classification ids and names, in the order the guide's statistics example lists them."""

# Encryption methods as the guide's shape writes them, with the simulator's own ids.
_ENCRYPTION_IDS = {"NONE": 1, "TLS": 7, "DANE": 8, "EMIG": 9, "SMIME": 10, "PGP": 11, "WEBSAFE": 12}
_STATUS = {"delivered": 1, "rejected": 3, "quarantined": 4}

Shape = Literal["encryption", "crypt_type"]


def _fmt(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def _parse_time(text: object) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def make_email(
    *,
    date: datetime.datetime,
    domain: str,
    direction: int = 1,
    partner: str = "partner.test",
    encryption: str = "TLS",
    classification: int = 2,
    shape: Shape = "encryption",
    subject: str = "",
    tls_version: str = "TLSv1.3",
) -> dict[str, Any]:
    """One e-mail document in either documented shape.

    ``encryption`` is one of NONE, TLS, DANE, EMIG, SMIME, PGP, WEBSAFE. ``shape`` picks the
    guide's ``encryption {text}`` or the connectors' ``crypt_type_in/out`` + ``smtp_dialog``.
    """
    user = f"user{date.second % 7}@{domain}"
    partner_address = f"contact@{partner}"
    klass = CLASSIFICATIONS.get(classification, "clean")
    status = "rejected" if classification in (3, 5) else "delivered"
    mail: dict[str, Any] = {
        "direction": direction,
        "date": _fmt(date),
        "gateway": "mx-gate01-sim",
        "owner": user,
        "owner_domain": domain,
        "comm_partner": partner_address,
        "source_ip": "192.0.2.25" if direction == 1 else "198.51.100.25",
        "source_hostname": f"mail.{partner}" if direction == 1 else f"mx.{domain}",
        "destination_hostname": f"mx.{domain}" if direction == 1 else f"mail.{partner}",
        "classification": {"id": classification, "text": klass},
        "status": {"id": _STATUS[status], "text": status},
        "subject": subject or f"Message at {_fmt(date)} with {partner}",
    }
    if shape == "encryption":
        mail["encryption"] = {"id": _ENCRYPTION_IDS.get(encryption, 0), "text": encryption}
        return mail
    # The connectors' shape only knows transport encryption: anything above TLS rode on TLS.
    transport = "NONE" if encryption == "NONE" else "TLS"
    crypt = {"id": _ENCRYPTION_IDS[transport], "text": transport}
    none = {"id": _ENCRYPTION_IDS["NONE"], "text": "NONE"}
    mail["crypt_type_in"] = crypt if direction == 1 else none
    mail["crypt_type_out"] = crypt if direction == 2 else none
    dialog = "EHLO mail.sim;MAIL FROM:<x>;RCPT TO:<y>;DATA;250 OK"
    if transport == "TLS":
        dialog += (
            ";CIPHER=TLS_AES_256_GCM_SHA384;IDENTITY=mail."
            + partner
            + f";TLS_VER={tls_version};TLS_CSUITE=TLS_AES_256_GCM_SHA384;TLS_WARN="
        )
    mail["smtp_dialog"] = dialog
    return mail


@dataclass
class ControlPanelSimConfig:
    """What the simulated Control Panel knows. Credentials here are fakes for loopback only."""

    app_id: str = "sim-app-id"
    app_version: str = "1.0.0.0"
    cp_token: str = "sim-cp-token-0123456789"  # noqa: S105 (a fake for loopback)
    username: str = "admin@partner.test"
    password: str = "sim-password"  # noqa: S105 (a fake for loopback)
    partner_name: str = "partner.test"
    partner_id: int = 1000
    domains: Sequence[str] = ("example.test",)
    emails_per_domain: int = 120
    days: float = 7.0
    seed: int = 1
    now: datetime.datetime | None = None
    shape: Literal["mixed", "encryption", "crypt_type"] = "mixed"
    unencrypted_share: float = 0.2
    window_limit: int = 10_000
    max_limit: int = 1000
    rate_limit: int | None = None
    """Requests answered in any one second; more get 429 with ``Retry-After: 1`` (None: no
    limit). No limit is documented; 5 per second is one that has been seen to bite."""
    whitelabel_domain: str = ""
    control_panel_host: str = "cp.partner.test"
    version: str = "6.17.0.0"
    host: str = "127.0.0.1"
    port: int = 0
    certfile: str | None = None
    keyfile: str | None = None


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the simulator saw it (header names only; no values, no body)."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int
    header_names: frozenset[str]
    body_keys: frozenset[str]


@dataclass
class SimFaults:
    """Faults to inject; change them at run time (the simulator reads them per request)."""

    rate_limited: int = 0
    retry_after: str | None = "1"
    server_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def rate_limit(self, count: int, retry_after: str | None = "1") -> None:
        """Answer the next ``count`` requests with 429 and this ``Retry-After`` (None: omit it)."""
        with self._lock:
            self.rate_limited = count
            self.retry_after = retry_after

    def fail(self, count: int) -> None:
        """Answer the next ``count`` requests with 500."""
        with self._lock:
            self.server_errors = count

    def take(self) -> tuple[str, str | None] | None:
        with self._lock:
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return "429", self.retry_after
            if self.server_errors > 0:
                self.server_errors -= 1
                return "500", None
        return None


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        error_id: int,
        message: str,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message
        self.data = dict(data or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "error_data": self.data,
            "error_message": self.message,
            "error_id": self.error_id,
            "status_code": self.status,
        }


def _required(name: str) -> _ApiError:
    return _ApiError(400, 2009, "Validationerror", {name: ["This field is required."]})


class ControlPanelSimulator(Service):
    """The simulated API: start/stop or use as a context manager; ``.url`` is the base URL."""

    def __init__(self, config: ControlPanelSimConfig | None = None) -> None:
        self.config = config or ControlPanelSimConfig()
        self.faults = SimFaults()
        self.window_limit = self.config.window_limit
        self.log: list[LoggedRequest] = []
        self.counters: collections.Counter[str] = collections.Counter()
        self.max_in_flight = 0
        self._in_flight = 0
        self._answered: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._sessions: dict[str, int] = {}
        self.now = (self.config.now or datetime.datetime.now(UTC)).replace(microsecond=0)
        self._objects: dict[int, str] = {}
        self._emails: dict[int, list[dict[str, Any]]] = {}
        self.whitelabel: dict[int, str] = {}
        for index, name in enumerate(self.config.domains):
            object_id = self.config.partner_id + 1 + index
            self._objects[object_id] = name.lower()
            self._emails[object_id] = self._seed_emails(name.lower(), index)
            self.whitelabel[object_id] = self.config.whitelabel_domain
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- data ----------------------------------------------------------------------------

    def _seed_emails(self, domain: str, index: int) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.config.seed}:{index}:{domain}")  # noqa: S311 (test data)
        partners = [f"partner-{c}.test" for c in "abcdefgh"]
        methods = ["TLS"] * 12 + ["DANE"] * 3 + ["EMIG"] * 2 + ["SMIME", "PGP", "WEBSAFE"]
        classes = [2] * 14 + [1] * 3 + [3, 5, 8, 11, 12]
        span = int(self.config.days * 86400)
        mails = []
        for n in range(self.config.emails_per_domain):
            date = self.now - datetime.timedelta(seconds=rng.randrange(1, max(span, 2)))
            partner = rng.choice(partners)
            # Two partners never do TLS: the audit's "who had no TLS" list has a clear answer.
            no_tls = partner in ("partner-g.test", "partner-h.test")
            unencrypted = no_tls or rng.random() < self.config.unencrypted_share
            shape: Shape
            if self.config.shape == "mixed":
                shape = "encryption" if n % 2 == 0 else "crypt_type"
            else:
                shape = self.config.shape
            mails.append(
                make_email(
                    date=date,
                    domain=domain,
                    direction=1 if rng.random() < 0.6 else 2,
                    partner=partner,
                    encryption="NONE" if unencrypted else rng.choice(methods),
                    classification=rng.choice(classes),
                    shape=shape,
                    subject=f"Seeded message {n} for {domain}",
                )
            )
        mails.sort(key=lambda m: str(m["date"]))
        return mails

    def object_id(self, domain: str) -> int:
        """The object id the simulator gave ``domain``."""
        for object_id, name in self._objects.items():
            if name == domain.lower():
                return object_id
        raise KeyError(domain)

    def emails(self, domain: str) -> list[dict[str, Any]]:
        """A copy of the e-mail documents of ``domain``, oldest first."""
        with self._lock:
            return [dict(m) for m in self._emails[self.object_id(domain)]]

    def set_emails(self, domain: str, emails: Sequence[Mapping[str, Any]]) -> None:
        """Replace the e-mails of ``domain`` (e.g. with :func:`make_email` documents)."""
        with self._lock:
            self._emails[self.object_id(domain)] = sorted(
                (dict(m) for m in emails), key=lambda m: str(m.get("date"))
            )

    def add_emails(self, domain: str, emails: Sequence[Mapping[str, Any]]) -> None:
        """Add e-mails to ``domain``."""
        self.set_emails(domain, [*self.emails(domain), *emails])

    @property
    def active_sessions(self) -> int:
        """Session tokens issued and not yet logged out."""
        with self._lock:
            return len(self._sessions)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:41234/api/v0/``."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        scheme = "https" if self.config.certfile else "http"
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{self._server.server_address[1]}/api/v0/"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    def start(self) -> ControlPanelSimulator:
        handler = type("_BoundHandler", (_Handler,), {"sim": self})
        server_class = _IPv6Server if ":" in self.config.host else _Server
        server = server_class((self.config.host, self.config.port), handler)
        server.daemon_threads = True
        if self.config.certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.config.certfile, self.config.keyfile)
            server.tls = context
        self._server = server
        self._thread = serve_in_thread(server)
        return self

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = None
        self._thread = None

    def write_credentials(
        self, path: str | os.PathLike[str], *, base_url: str | None = None
    ) -> Path:
        """Write a cp-audit credentials file (mode 0600) for this simulator."""
        p = Path(path)
        c = self.config
        text = (
            f"cp_url = {base_url or self.url}\n"
            f"cp_app_id = {c.app_id}\n"
            f"cp_app_version = {c.app_version}\n"
            f"cp_token = {c.cp_token}\n"
            f"cp_username = {c.username}\n"
            f"cp_password = {c.password}\n"
        )
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return p

    # -- request handling ----------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body, extra headers)."""
        parts = urllib.parse.urlsplit(raw_path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
        path = parts.path
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        payload: Any = None
        try:
            try:
                payload = json.loads(body) if body else {}
            except ValueError:
                payload = None
            status, answer, extra = self._dispatch(method, path, query, headers, payload)
        except _ApiError as error:
            status, answer, extra = error.status, error.body(), error.headers
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self.counters[f"{method} {path}"] += 1
            self.counters[f"status {status}"] += 1
            self.log.append(
                LoggedRequest(
                    method=method,
                    path=path,
                    query=query,
                    status=status,
                    header_names=frozenset(h.lower() for h in headers),
                    body_keys=frozenset(payload) if isinstance(payload, dict) else frozenset(),
                )
            )
        return status, answer, extra

    def _dispatch(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        payload: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        self._check_rate()
        fault = self.faults.take()
        if fault is not None:
            kind, retry_after = fault
            if kind == "429":
                extra = {"Retry-After": retry_after} if retry_after is not None else {}
                raise _ApiError(429, 1429, "Request was throttled.", headers=extra)
            raise _ApiError(500, 1500, "Internal server error")
        if not path.startswith("/api/v0/"):
            raise _ApiError(404, 1404, "Not found")
        route = path[len("/api/v0/") :]
        self._check_app_headers(headers)
        if (method, route) == ("POST", "auth/login/"):
            return self._login(payload)
        token = self._check_session(headers)
        routes: dict[tuple[str, str], Callable[[], tuple[int, Any, dict[str, str]]]] = {
            ("POST", "auth/logout/"): lambda: self._logout(token),
            ("GET", "version/"): lambda: (200, self.config.version, {}),
            ("POST", "hierarchy/_search/"): lambda: self._hierarchy(payload),
            ("POST", "emails/_search/"): lambda: self._search(query, payload),
            ("POST", "emails/statistics/by_time/"): lambda: self._statistics(query, payload),
            ("GET", "whitelabeling/"): lambda: self._whitelabeling(query),
            ("GET", "whitelabeling/infos/"): lambda: self._whitelabeling_infos(headers),
        }
        action = routes.get((method, route))
        if action is None:
            raise _ApiError(404, 1404, "Not found")
        return action()

    def _check_rate(self) -> None:
        """Refuse a request beyond ``rate_limit`` in the last second (refused ones not counted)."""
        limit = self.config.rate_limit
        if limit is None:
            return
        now = time.monotonic()
        with self._lock:
            while self._answered and self._answered[0] <= now - 1.0:
                self._answered.popleft()
            if len(self._answered) >= limit:
                self.counters["rate limited"] += 1
                raise _ApiError(429, 1429, "Request was throttled.", headers={"Retry-After": "1"})
            self._answered.append(now)

    def _check_app_headers(self, headers: Mapping[str, str]) -> None:
        wanted = {
            "app-id": self.config.app_id,
            "app-version": self.config.app_version,
            "cp-token": self.config.cp_token,
        }
        for name, value in wanted.items():
            given = headers.get(name)
            if not given:
                raise _ApiError(
                    403, 1001, "Permission denied", {name: ["This header is required."]}
                )
            if not secrets.compare_digest(given, value):
                raise _ApiError(403, 1001, "Permission denied", {name: ["Invalid value."]})

    def _check_session(self, headers: Mapping[str, str]) -> str:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if not value:
            raise _ApiError(
                401,
                1004,
                "Authentication credentials were not provided.",
                {"authorization": ["This header is required."]},
            )
        with self._lock:
            known = token in self._sessions
        if scheme != "Token" or not known:
            raise _ApiError(
                401, 1004, "Invalid token.", {"authorization": ["Invalid or expired token."]}
            )
        return token

    def _login(self, payload: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(payload, dict):
            raise _required("username")
        for name in ("username", "password"):
            if not isinstance(payload.get(name), str) or not payload[name]:
                raise _required(name)
        good = secrets.compare_digest(
            payload["username"], self.config.username
        ) & secrets.compare_digest(payload["password"], self.config.password)
        if not good:
            raise _ApiError(
                401,
                1005,
                "Login failed",
                {"non_field_errors": ["Unable to log in with provided credentials."]},
            )
        token = secrets.token_hex(20)
        with self._lock:
            self._sessions[token] = self.config.partner_id
            self.counters["logins"] += 1
        return 200, {"object_id": self.config.partner_id, "token": token}, {}

    def _logout(self, token: str) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self._sessions.pop(token, None)
            self.counters["logouts"] += 1
        return 200, {}, {}

    def _scope(self, query: Mapping[str, str]) -> int:
        raw = query.get("object_id")
        if raw is None or raw == "":
            raise _required("object_id")
        if not raw.isdigit():
            raise _ApiError(
                400, 2009, "Validationerror", {"object_id": ["A valid integer is required."]}
            )
        object_id = int(raw)
        if object_id != self.config.partner_id and object_id not in self._objects:
            raise _ApiError(403, 1003, "You do not have permission to perform this action.")
        return object_id

    def _hierarchy(self, payload: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(payload, dict) or not isinstance(payload.get("search_string"), str):
            raise _required("search_string")
        needle = payload["search_string"].strip().lower()
        children = [
            {"id": oid, "name": name, "is_user": False, "children_count": 0}
            for oid, name in sorted(self._objects.items())
            if needle in name
        ]
        if not children:
            return 200, [], {}
        partner = {
            "id": self.config.partner_id,
            "name": self.config.partner_name,
            "is_user": False,
            "children_count": len(self._objects),
            "children": children,
        }
        return 200, [partner], {}

    def _window(self, payload: Any) -> tuple[datetime.datetime, datetime.datetime]:
        if not isinstance(payload, dict):
            raise _required("date_from")
        moments = []
        for name in ("date_from", "date_to"):
            if name not in payload:
                raise _required(name)
            moment = _parse_time(payload[name])
            if moment is None:
                raise _ApiError(
                    400,
                    2009,
                    "Validationerror",
                    {name: ["Datetime has wrong format. Use YYYY-MM-DDThh:mm:ssZ."]},
                )
            moments.append(moment)
        return moments[0], moments[1]

    def _selected(
        self, object_id: int, start: datetime.datetime, end: datetime.datetime
    ) -> list[dict[str, Any]]:
        ids = list(self._objects) if object_id == self.config.partner_id else [object_id]
        with self._lock:
            mails = [m for oid in ids for m in self._emails[oid]]
        low, high = _fmt(start), _fmt(end)
        return [m for m in mails if low <= str(m.get("date")) <= high]

    def _search(self, query: Mapping[str, str], payload: Any) -> tuple[int, Any, dict[str, str]]:
        object_id = self._scope(query)
        start, end = self._window(payload)
        assert isinstance(payload, dict)
        limit, offset = payload.get("limit", 50), payload.get("offset", 0)
        for name, value in (("limit", limit), ("offset", offset)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _ApiError(
                    400, 2009, "Validationerror", {name: ["A valid integer is required."]}
                )
        if limit > self.config.max_limit:
            raise _ApiError(
                400,
                2009,
                "Validationerror",
                {"limit": [f"Ensure this value is less than or equal to {self.config.max_limit}."]},
            )
        mails = self._selected(object_id, start, end)
        directions = payload.get("direction")
        if isinstance(directions, list) and directions:
            mails = [m for m in mails if m.get("direction") in directions]
        classes = payload.get("classification")
        if isinstance(classes, list) and classes:
            mails = [m for m in mails if (m.get("classification") or {}).get("id") in classes]
        if len(mails) >= self.window_limit:
            raise _ApiError(400, 3089, "Too many results: narrow the time range of the search.")
        sort = payload.get("sort") if isinstance(payload.get("sort"), dict) else {}
        descending = (sort or {}).get("order", "desc") == "desc"
        mails.sort(key=lambda m: str(m.get("date")), reverse=descending)
        return 200, {"emails": mails[offset : offset + limit], "num_found_items": len(mails)}, {}

    def _statistics(
        self, query: Mapping[str, str], payload: Any
    ) -> tuple[int, Any, dict[str, str]]:
        object_id = self._scope(query)
        start, end = self._window(payload)
        counts: collections.Counter[int] = collections.Counter(
            int((m.get("classification") or {}).get("id", 2))
            for m in self._selected(object_id, start, end)
        )
        return (
            200,
            [{"type": t, "value": counts[t], "name": n} for t, n in CLASSIFICATIONS.items()],
            {},
        )

    def _customisation(self, object_id: int, domain: str) -> dict[str, Any]:
        return {
            "theme": "dark",
            "primary_colour": "#15358B",
            "favicon": "data:image/x-icon;base64,AAAB",
            "domain": domain,
            "logo": "data:image/png;base64,iVBOR",
            "email_sender": "",
            "id": 500 + object_id % 500,
        }

    def _whitelabeling(self, query: Mapping[str, str]) -> tuple[int, Any, dict[str, str]]:
        object_id = self._scope(query)
        domain = self.whitelabel.get(object_id) or self.config.control_panel_host
        return 200, self._customisation(object_id, domain), {}

    def _whitelabeling_infos(self, headers: Mapping[str, str]) -> tuple[int, Any, dict[str, str]]:
        host = headers.get("host", "").rsplit(":", 1)[0].lower()
        for object_id, domain in self.whitelabel.items():
            if domain and domain == host:
                return 200, self._customisation(object_id, domain), {}
        return 200, self._customisation(self.config.partner_id, self.config.control_panel_host), {}


class _Server(QuietDisconnects, ThreadingHTTPServer):
    """Plain HTTP, or HTTPS with the handshake in the connection's thread (not in accept, where
    one silent client would stall every other)."""

    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except OSError:
            return  # the client gave up or refused the certificate
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    sim: ControlPanelSimulator
    protocol_version = "HTTP/1.1"
    server_version = "ControlPanelSim/1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the simulator keeps its own log (``.log``)."""

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer, extra = self.sim.handle(self.command, self.path, headers, body)
        data = json.dumps(answer).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m certbot_dns_variomedia.testing.controlpanel",
        description="Run the Control Panel API simulator on loopback until SIGINT/SIGTERM.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--domain", action="append", help="a simulated domain (repeatable)")
    parser.add_argument("--emails", type=int, default=120, help="seeded e-mails per domain")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window-limit", type=int, default=10_000)
    parser.add_argument(
        "--rate-limit", type=int, help="answer 429 beyond this many requests per second"
    )
    parser.add_argument("--whitelabel-domain", default="")
    parser.add_argument(
        "--write-credentials",
        metavar="FILE",
        help="write a cp-audit credentials file (mode 0600) for this simulator",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    config = ControlPanelSimConfig(
        port=args.port,
        domains=tuple(args.domain or ["example.test"]),
        emails_per_domain=args.emails,
        seed=args.seed,
        window_limit=args.window_limit,
        rate_limit=args.rate_limit,
        whitelabel_domain=args.whitelabel_domain,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with ControlPanelSimulator(config) as sim:
        print(f"Control Panel simulator: {sim.url}", flush=True)
        print(f"domains: {', '.join(config.domains)}", flush=True)
        if args.write_credentials:
            path = sim.write_credentials(args.write_credentials)
            print(f"credentials: {path}", flush=True)
        else:
            print("credentials: use --write-credentials FILE to get a cp-audit INI", flush=True)
        while not stop.wait(0.5):
            pass
    return 0
