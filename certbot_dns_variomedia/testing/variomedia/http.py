"""The HTTP side of the Variomedia simulator: the request pipeline and the server.

Every request passes, in order: the error lock-out, injected faults, the per-address rate
limit, authentication, content negotiation, then the endpoint. `Gateway.handle` is plain
Python (Request in, Reply out); `SimHTTPServer` only moves bytes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import http
import json
import logging
import math
import re
import selectors
import socket
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from ...clock import Clock
from ..servers.service import QuietDisconnects
from .config import SimConfig
from .documents import (
    Documents,
    parse_domain_changes,
    parse_new_record,
)
from .faults import Fault, Faults
from .state import (
    Account,
    ApiError,
    ErrorItem,
    JobSnapshot,
)

__all__ = ["Counters", "Gateway", "LogEntry", "Reply", "Request", "SimHTTPServer"]

logger = logging.getLogger(__name__)

JSON_API = "application/vnd.api+json"
PLAIN_JSON = "application/json"
UNAUTHORIZED_TITLE = (
    "The server could not verify that you are authorized to access the URL requested. You "
    "either supplied the wrong credentials (e.g. a bad password), or your browser doesn't "
    "understand how to supply the credentials required."
)
_VENDOR_TYPE = re.compile(r"application/vnd\.variomedia(?:\.v(\d+))?\+json")
_ANY_JSON = frozenset({JSON_API, PLAIN_JSON, "*/*", "application/*"})
_FILTER = re.compile(r"filter\[([a-z_]+)\]")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    client: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False  # close the connection without any answer
    drip: float = 0.0  # seconds between the body's bytes
    size: int = 0  # a body of this many bytes, streamed without Content-Length


@dataclass(frozen=True)
class LogEntry:
    """One request as the simulator saw it; `status` None means no answer was sent."""

    time: float  # the clock's monotonic time
    method: str
    path: str
    query: str
    status: int | None
    body_size: int  # bytes of the request body
    client: str


class Counters:
    """Request counts, so tests can assert how hard a client hit the API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_status: Counter[int] = Counter()
        self._by_route: Counter[str] = Counter()
        self._total = 0
        self._no_response = 0

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    @property
    def by_status(self) -> dict[int, int]:
        with self._lock:
            return dict(self._by_status)

    @property
    def by_route(self) -> dict[str, int]:
        """Counts by "METHOD /path/{template}", e.g. "POST /dns-records"."""
        with self._lock:
            return dict(self._by_route)

    @property
    def too_many_requests(self) -> int:
        """429 answers, whatever caused them."""
        with self._lock:
            return self._by_status[429]

    @property
    def no_response(self) -> int:
        with self._lock:
            return self._no_response

    def reset(self) -> None:
        with self._lock:
            self._by_status.clear()
            self._by_route.clear()
            self._total = self._no_response = 0

    def count(self, route: str, status: int | None) -> None:
        with self._lock:
            self._total += 1
            self._by_route[route] += 1
            if status is None:
                self._no_response += 1
            else:
                self._by_status[status] += 1


class _ClientLimits:
    """Per-address sliding-window rate limit over accepted requests, and the lock-out that
    follows too many error answers (both as the spec describes the real API)."""

    def __init__(self, config: SimConfig) -> None:
        self._rate = config.rate_limit
        self._lockout = config.lockout
        self._lock = threading.Lock()
        self._accepted: dict[str, deque[float]] = {}
        self._errors: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def locked_for(self, client: str, now: float) -> float | None:
        """Seconds the client stays locked out, None if it is not."""
        with self._lock:
            until = self._locked_until.get(client)
            return None if until is None or now >= until else until - now

    def admit(self, client: str, now: float) -> int | None:
        """Count the request and return None, or refuse it: the seconds until a slot frees."""
        if self._rate is None:
            return None
        limit, window = self._rate
        with self._lock:
            accepted = self._accepted.setdefault(client, deque())
            while accepted and accepted[0] <= now - window:
                accepted.popleft()
            if len(accepted) >= limit:
                return max(1, math.ceil(accepted[0] + window - now))
            accepted.append(now)
            return None

    def count_error(self, client: str, now: float) -> None:
        if self._lockout is None:
            return
        with self._lock:
            errors = self._errors.setdefault(client, deque())
            errors.append(now)
            while errors and errors[0] <= now - self._lockout.window:
                errors.popleft()
            if len(errors) >= self._lockout.errors:
                self._locked_until[client] = now + self._lockout.duration
                errors.clear()


Endpoint = Callable[["_Call"], Reply]


@dataclass(frozen=True)
class _Route:
    template: str
    methods: Mapping[str, Endpoint]
    filters: frozenset[str] = frozenset()
    paged: bool = False
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{\w+\}", "([^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(regex))


@dataclass(frozen=True)
class _Call:
    """One routed request with its parsed parts."""

    request: Request
    params: tuple[str, ...]
    filters: dict[str, set[str]]
    page_number: int
    page_size: int
    kept_query: tuple[tuple[str, str], ...]  # filters and page[size], for the next link
    body: Any
    content_type: str


class Gateway:
    """The simulated API behind the socket: every request goes through `handle`."""

    def __init__(
        self,
        account: Account,
        faults: Faults,
        *,
        config: SimConfig,
        clock: Clock,
        base_url: str,
        stopping: threading.Event,
    ) -> None:
        self._account = account
        self._faults = faults
        self._config = config
        self._clock = clock
        self._stopping = stopping
        self._docs = Documents(base_url, config)
        self._limits = _ClientLimits(config)
        self._log_lock = threading.Lock()
        self._log: list[LogEntry] = []
        self.counters = Counters()
        self._routes = (
            _Route(
                "/domains",
                {"GET": self._list_domains},
                frozenset({"owner_id", "package_id"}),
                paged=True,
            ),
            _Route("/domains/{name}", {"GET": self._get_domain, "PATCH": self._patch_domain}),
            _Route(
                "/dns-records",
                {"GET": self._list_records, "POST": self._create_record},
                frozenset({"domain", "package_id"}),
                paged=True,
            ),
            _Route("/dns-records/{id}", {"GET": self._get_record, "DELETE": self._delete_record}),
            _Route("/queue-jobs", {"GET": self._list_jobs}, paged=True),
            _Route("/queue-jobs/{id}", {"GET": self._get_job}),
        )

    @property
    def stopping(self) -> threading.Event:
        """Set when the simulator stops: slow answers end at once."""
        return self._stopping

    @property
    def log(self) -> list[LogEntry]:
        with self._log_lock:
            return list(self._log)

    # -- the pipeline --------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        now = self._clock.monotonic()
        locked = self._limits.locked_for(request.client, now)
        if locked is not None:
            reply = self._locked_out(request, locked)
        else:
            reply = self._process(request, now)
            if 400 <= reply.status < 500:
                self._limits.count_error(request.client, now)
        status = None if reply.drop else reply.status
        with self._log_lock:
            self._log.append(
                LogEntry(
                    time=now,
                    method=request.method,
                    path=request.path,
                    query=request.query,
                    status=status,
                    body_size=len(request.body),
                    client=request.client,
                )
            )
        self.counters.count(f"{request.method} {self._template(request.path)}", status)
        return reply

    def _process(self, request: Request, now: float) -> Reply:
        content_type = _response_type(request)
        fault = self._faults.before(request.method, request.path)
        if fault is not None:
            if fault.kind != "slow":
                return self._fault_reply(fault, request, content_type)
            if self._stopping.wait(fault.seconds):
                return Reply(503)  # the simulator is stopping: answer at once, and briefly
        retry_after = self._limits.admit(request.client, now)
        if retry_after is not None:
            limit, window = self._config.rate_limit or (0, 0.0)
            return self._too_many(
                request,
                content_type,
                retry_after,
                f"At most {limit} requests per {window:g} s; retry after {retry_after} s.",
            )
        try:
            reply = self._serve(request, content_type)
        except ApiError as error:
            return self._error(request, content_type, error)
        if 200 <= reply.status < 300:
            spoiled = self._faults.after(request.method, request.path)
            if spoiled is not None:
                return self._spoil(spoiled, reply, request, content_type)
        return reply

    def _serve(self, request: Request, content_type: str) -> Reply:
        self._authenticate(request)
        _negotiate(request)
        route, params = self._route(request)
        endpoint = route.methods.get(request.method)
        if endpoint is None:
            raise _MethodNotAllowed(sorted(route.methods))
        body = _json_body(request)
        filters, number, size, kept = self._query(request, route)
        call = _Call(request, params, filters, number, size, kept, body, content_type)
        return endpoint(call)

    def _authenticate(self, request: Request) -> None:
        given = _token_of(request.headers.get("authorization", ""))
        valid = (
            given is not None
            and not self._faults.token_expired
            and hmac.compare_digest(given.encode(), self._config.token.encode())
        )
        if not valid:
            raise ApiError(401, ErrorItem("unauthorized", UNAUTHORIZED_TITLE))

    def _route(self, request: Request) -> tuple[_Route, tuple[str, ...]]:
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match:
                return route, tuple(unquote(p) for p in match.groups())
        raise ApiError(
            404, ErrorItem("not_found", "The requested URL was not found on the server.")
        )

    def _template(self, path: str) -> str:
        for route in self._routes:
            if route.pattern.fullmatch(path):
                return route.template
        return "(unknown path)"

    def _query(
        self, request: Request, route: _Route
    ) -> tuple[dict[str, set[str]], int, int, tuple[tuple[str, str], ...]]:
        """Filters (comma lists and repeats OR-ed), page number and size, and what the next
        page's link keeps. Unknown parameters are refused, so a typo cannot silently widen a
        list."""
        listing = request.method == "GET" and route.paged
        filters: dict[str, set[str]] = {}
        number, size = 1, self._config.page_size
        kept: list[tuple[str, str]] = []
        for key, value in parse_qsl(request.query, keep_blank_values=True):
            match = _FILTER.fullmatch(key)
            if listing and match and match.group(1) in route.filters:
                filters.setdefault(match.group(1), set()).update(
                    v.strip() for v in value.split(",") if v.strip()
                )
                kept.append((key, value))
            elif listing and key in ("page[number]", "page[size]"):
                if not value.isdigit() or int(value) < 1:
                    raise _bad_parameter(key, f"'{key}' must be a positive integer.")
                if key == "page[number]":
                    number = int(value)
                else:
                    size = min(int(value), self._config.page_size)
                    kept.append((key, value))
            else:
                raise _bad_parameter(key, f"Unknown query parameter '{key}'.")
        return filters, number, size, tuple(kept)

    # -- endpoints -----------------------------------------------------------------------------

    def _list_domains(self, call: _Call) -> Reply:
        domains = self._account.domains(
            call.filters.get("owner_id"), call.filters.get("package_id")
        )
        minimal = self._config.domain_list_presence == "minimal"
        return self._page(call, [self._docs.domain(d, minimal=minimal) for d in domains])

    def _get_domain(self, call: _Call) -> Reply:
        domain = self._account.domain(call.params[0])
        return self._single(call, self._docs.domain(domain), self._docs.domain_path(domain))

    def _patch_domain(self, call: _Call) -> Reply:
        name = call.params[0]
        self._account.domain(name)  # 404 before looking at the body
        update_lock, migration_mode = parse_domain_changes(call.body, name)
        domain, job = self._account.patch_domain(
            name,
            update_lock=update_lock,
            migration_mode=migration_mode,
            with_job=self._config.patch_answer == "job",
        )
        if job is None:
            return self._single(call, self._docs.domain(domain), self._docs.domain_path(domain))
        document = {
            "data": self._docs.job(job),
            "links": {"self": self._docs.url(self._docs.domain_path(domain))},
        }
        return self._json(call.content_type, 202, document, self._job_location(job))

    def _list_records(self, call: _Call) -> Reply:
        records = self._account.records(call.filters.get("domain"), call.filters.get("package_id"))
        return self._page(call, [self._docs.record(r) for r in records])

    def _get_record(self, call: _Call) -> Reply:
        record = self._account.record(call.params[0])
        return self._single(call, self._docs.record(record), f"/dns-records/{record.id}")

    def _create_record(self, call: _Call) -> Reply:
        new = parse_new_record(call.body)
        record, job = self._account.create_record(new, self._faults.job_outcome("POST"))
        document = self._docs.created(job, record)
        return self._json(
            call.content_type, self._config.post_status, document, self._job_location(job)
        )

    def _delete_record(self, call: _Call) -> Reply:
        at_once = self._config.delete_answer == "done"
        record, job = self._account.delete_record(
            call.params[0], self._faults.job_outcome("DELETE"), at_once=at_once
        )
        document = self._docs.deleted(job, record)
        if at_once:
            return self._json(call.content_type, 200, document)
        return self._json(call.content_type, 202, document, self._job_location(job))

    def _list_jobs(self, call: _Call) -> Reply:
        return self._page(call, [self._docs.job(j) for j in self._account.pending_jobs()])

    def _get_job(self, call: _Call) -> Reply:
        job = self._account.job(call.params[0])
        return self._single(call, self._docs.job(job), f"/queue-jobs/{job.id}")

    # -- replies -------------------------------------------------------------------------------

    def _single(self, call: _Call, resource: dict[str, Any], path: str) -> Reply:
        document = {"data": resource, "links": {"self": self._docs.url(path)}}
        return self._json(call.content_type, 200, document)

    def _page(self, call: _Call, resources: list[dict[str, Any]]) -> Reply:
        """One page of a list, with links.self, links.next (absent on the last page) and meta."""
        size, number = call.page_size, call.page_number
        pages = max(1, math.ceil(len(resources) / size))
        start = (number - 1) * size

        def link(page: int) -> str:
            query = urlencode([*call.kept_query, ("page[number]", str(page))], safe="[],")
            return self._docs.url(f"{call.request.path}?{query}")

        links = {"self": link(number)}
        if number < pages or self._faults.endless(call.request.path):
            links["next"] = link(number + 1)
        meta = {
            "pagination": {
                "page": number,
                "per_page": size,
                "pages": pages,
                "total": len(resources),
            }
        }
        document = {"data": resources[start : start + size], "links": links, "meta": meta}
        return self._json(call.content_type, 200, document)

    def _job_location(self, job: JobSnapshot) -> tuple[tuple[str, str], ...]:
        if self._config.job_link == "body":
            return ()
        return (("Content-Location", self._docs.url(f"/queue-jobs/{job.id}")),)

    @staticmethod
    def _json(
        content_type: str,
        status: int,
        document: Mapping[str, Any],
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Reply:
        body = json.dumps(document, ensure_ascii=False).encode()
        return Reply(status, body, (("Content-Type", content_type), *headers))

    def _error(self, request: Request, content_type: str, error: ApiError) -> Reply:
        headers: tuple[tuple[str, str], ...] = ()
        if isinstance(error, _MethodNotAllowed):
            headers = (("Allow", ", ".join(error.allowed)),)
        document = self._docs.errors(error.items, error.status, request.path)
        return self._json(content_type, error.status, document, headers)

    def _too_many(
        self, request: Request, content_type: str, retry_after: int, detail: str
    ) -> Reply:
        item = ErrorItem("too_many_requests", "Too many requests.", detail)
        document = self._docs.errors([item], 429, request.path)
        return self._json(content_type, 429, document, (("Retry-After", str(retry_after)),))

    def _locked_out(self, request: Request, seconds: float) -> Reply:
        lockout = self._config.lockout
        assert lockout is not None  # nobody is locked out without a lock-out policy
        wait = max(1, math.ceil(seconds))
        item = ErrorItem(
            "access_locked",
            "API access from this address is locked after too many errors.",
            f"Try again in {wait} s, and find out what caused the errors first.",
        )
        document = self._docs.errors([item], lockout.status, request.path)
        return self._json(
            _response_type(request), lockout.status, document, (("Retry-After", str(wait)),)
        )

    def _fault_reply(self, fault: Fault, request: Request, content_type: str) -> Reply:
        if fault.kind == "storm":
            detail = f"Retry after {fault.retry_after} s."
            return self._too_many(request, content_type, fault.retry_after, detail)
        if fault.kind == "html_error":
            return _html_page(fault.status)
        if fault.kind == "echo":
            sent = "\r\n".join(f"{name}: {value}" for name, value in request.headers.items())
            item = ErrorItem("bad_request", "Bad request.", f"You sent:\r\n{sent}\x1b[2J")
            return self._json(
                content_type, fault.status, self._docs.errors([item], fault.status, request.path)
            )
        if fault.kind == "redirect":
            page = _html_page(fault.status)
            return Reply(fault.status, page.body, (*page.headers, ("Location", fault.text)))
        typed = (("Content-Type", content_type),)
        if fault.kind == "drip":
            padded = b'{"data": []' + b" " * 88 + b"}"  # 100 bytes
            return Reply(200, padded, typed, drip=fault.seconds)
        if fault.kind == "huge":
            return Reply(200, headers=typed, size=fault.size)
        return self._server_error(fault.status, request, content_type)

    def _spoil(self, fault: Fault, reply: Reply, request: Request, content_type: str) -> Reply:
        if fault.kind == "drop":
            return Reply(0, drop=True)
        if fault.kind == "truncate":
            return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.headers)
        return self._server_error(fault.status, request, content_type)

    def _server_error(self, status: int, request: Request, content_type: str) -> Reply:
        phrase = http.HTTPStatus(status).phrase
        item = ErrorItem(phrase.lower().replace(" ", "_"), f"{phrase}.")
        return self._json(content_type, status, self._docs.errors([item], status, request.path))


class _MethodNotAllowed(ApiError):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(
            405, ErrorItem("method_not_allowed", "The method is not allowed for the requested URL.")
        )
        self.allowed = allowed


def _bad_parameter(key: str, title: str) -> ApiError:
    return ApiError(400, ErrorItem("bad_request", title, parameter=key))


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _response_type(request: Request) -> str:
    """JSON:API's type if the request used it, else plain JSON (for browsers), as the spec says."""
    if _media_type(request.headers.get("content-type", "")) == JSON_API:
        return JSON_API
    return PLAIN_JSON


def _negotiate(request: Request) -> None:
    """The version comes with Accept; none (or any JSON) means the newest, which is v1."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return
    for media_range in accept.split(","):
        kind = _media_type(media_range)
        vendor = _VENDOR_TYPE.fullmatch(kind)
        if kind in _ANY_JSON or (vendor and vendor.group(1) in (None, "1")):
            return
    raise ApiError(
        406,
        ErrorItem(
            "not_acceptable",
            f"Cannot answer with {accept!r}: the API speaks application/vnd.variomedia.v1+json.",
        ),
    )


def _json_body(request: Request) -> Any:
    """The parsed body, or None without one. A body needs a JSON content type (spec)."""
    if not request.body:
        return None
    if _media_type(request.headers.get("content-type", "")) not in (JSON_API, PLAIN_JSON):
        raise ApiError(
            415,
            ErrorItem(
                "unsupported_media_type",
                "Requests with a body need Content-Type application/vnd.api+json "
                "or application/json.",
            ),
        )
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            400, ErrorItem("bad_request", "The request body is not valid JSON.")
        ) from None


def _token_of(authorization: str) -> str | None:
    """The token of `token X` or of HTTP Basic with user `token` (both documented)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "token":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password if user == "token" else None
    return None


def _html_page(status: int) -> Reply:
    phrase = http.HTTPStatus(status).phrase
    page = (
        f"<!DOCTYPE html>\n<html><head><title>{status} {phrase}</title></head>\n"
        f"<body><h1>{phrase}</h1><p>The proxy server could not handle the request.</p>"
        "</body></html>\n"
    )
    return Reply(status, page.encode(), (("Content-Type", "text/html; charset=utf-8"),))


class SimHTTPServer(QuietDisconnects, ThreadingHTTPServer):
    """A threading HTTP/1.1 server on 127.0.0.1 that stops cleanly: stop() closes idle
    keep-alive connections and joins every handler thread."""

    daemon_threads = False
    block_on_close = True
    gateway: Gateway

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._wake = socket.socketpair()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def serve(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._thread = threading.Thread(
            target=self._accept, name=f"variomedia-sim-{self.server_address[1]}"
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close open connections, join every thread; idempotent."""
        if self._thread is not None:
            self._wake[1].send(b"x")
            self._thread.join()
            self._thread = None
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()
        for sock in self._wake:
            sock.close()

    def _accept(self) -> None:
        """serve_forever() without its polling: stop() wakes this loop at once."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ, "http")
            selector.register(self._wake[0], selectors.EVENT_READ, "wake")
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    self.handle_request()  # the socket is readable: no wait

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions expect
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    timeout = 30.0  # an idle keep-alive connection is closed after this
    server: SimHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        target = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=target.path,
            query=target.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client=self.client_address[0],
        )
        reply = self.server.gateway.handle(request)
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.size:
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self._stream(reply.size)
            return
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.drip:
            self._drip(reply.body, reply.drip)
            return
        self.wfile.write(reply.body)

    def _drip(self, body: bytes, seconds: float) -> None:
        """One byte, then a pause; until the body is out, the client leaves, or we stop."""
        for i in range(len(body)):
            try:
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
            except OSError:
                return
            if self.server.gateway.stopping.wait(seconds):
                self.close_connection = True
                return

    def _stream(self, size: int) -> None:
        """`size` bytes of a JSON document padded with whitespace, until the client leaves."""
        chunk = b" " * 65536
        try:
            self.wfile.write(b'{"data": []')
            sent = 0
            while sent < size and not self.server.gateway.stopping.is_set():
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.write(b"}")
        except OSError:
            return
