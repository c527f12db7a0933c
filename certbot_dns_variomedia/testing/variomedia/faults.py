"""Fault injection for the Variomedia simulator: the failures a client must survive.

Each fault applies to the next `count` requests that match its method and path prefix (None
matches all), in the order the faults were set; the first matching fault wins. Faults come in
three kinds: those that answer *instead of* the API (the request is not processed), those that
spoil the answer *after* the API processed it (the write is committed), and job outcomes.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Literal

from ...clock import Clock
from .state import JobOutcome

__all__ = ["Fault", "Faults"]

FaultKind = Literal[
    "server_error", "html_error", "slow", "storm", "drop", "commit_error", "truncate",
    "echo", "redirect", "drip", "huge", "endless",
]  # fmt: skip
_BEFORE: frozenset[FaultKind] = frozenset(
    {"server_error", "html_error", "slow", "storm", "echo", "redirect", "drip", "huge"}
)
_AFTER: frozenset[FaultKind] = frozenset({"drop", "commit_error", "truncate"})


@dataclass(frozen=True)
class Fault:
    """A fault that hit one request: what to do, and its parameters."""

    kind: FaultKind
    status: int = 0
    seconds: float = 0.0
    retry_after: int = 1
    text: str = ""  # redirect: the Location
    size: int = 0  # huge: bytes of the body


@dataclass
class _Rule:
    fault: Fault
    remaining: int | None  # None: until `until`
    until: float
    method: str | None
    path: str | None

    def matches(self, method: str, path: str, now: float) -> bool:
        return (
            (self.method is None or self.method == method)
            and (self.path is None or path.startswith(self.path))
            and (self.remaining is None or self.remaining > 0)
            and now < self.until
        )


@dataclass
class _JobRule:
    outcome: JobOutcome
    remaining: int
    method: str | None


class Faults:
    """Thread-safe fault switchboard of one simulator (`sim.faults`)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._job_rules: list[_JobRule] = []
        self._token_expired = False

    # -- setting faults ------------------------------------------------------------------------

    def server_errors(
        self,
        count: int = 1,
        *,
        status: int = 503,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer `status` (5xx, JSON error document) without processing the request."""
        if not 500 <= status <= 599:
            raise ValueError("server_errors() plays 5xx answers; use status 500-599")
        self._add(Fault("server_error", status=status), count, method, path)

    def html_errors(
        self,
        count: int = 1,
        *,
        status: int = 502,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer an HTML error page, as a proxy in front of the API would, without processing."""
        self._add(Fault("html_error", status=status), count, method, path)

    def slow(
        self, seconds: float, count: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Wait `seconds` before processing and answering (to run into client timeouts)."""
        self._add(Fault("slow", seconds=seconds), count, method, path)

    def rate_limit_storm(
        self,
        count: int | None = None,
        *,
        seconds: float | None = None,
        retry_after: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer 429 to the next `count` requests, or to every request for `seconds`.

        Retry-After is `retry_after` for a counted storm, the seconds left for a timed one.
        """
        if (count is None) == (seconds is None):
            raise ValueError("give rate_limit_storm() either count or seconds")
        until = math.inf if seconds is None else self._clock.monotonic() + seconds
        fault = Fault("storm", status=429, retry_after=retry_after)
        with self._lock:
            self._rules.append(_Rule(fault, count, until, _upper(method), path))

    def echo_headers(
        self,
        count: int = 1,
        *,
        status: int = 400,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer `status` with an error whose detail echoes the request's headers (the token
        among them), line breaks and a terminal escape included, as a misconfigured proxy or
        a debugging server does; the request is not processed."""
        self._add(Fault("echo", status=status), count, method, path)

    def redirect(
        self,
        count: int = 1,
        *,
        status: int = 302,
        location: str = "https://login.example.test/sso?next=/",
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer a redirect with an HTML body (a login portal in front of the API)."""
        self._add(Fault("redirect", status=status, text=location), count, method, path)

    def drip(
        self,
        seconds_per_byte: float,
        count: int = 1,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer 200 with a valid document of 100 bytes (an empty list, padded), sent one byte
        every `seconds_per_byte`: each read gets a byte in time, so no read timeout fires."""
        self._add(Fault("drip", seconds=seconds_per_byte), count, method, path)

    def huge(
        self,
        megabytes: float,
        count: int = 1,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer 200 with a body of `megabytes` (JSON whitespace), streamed, with no
        Content-Length: the client learns the size only by reading."""
        self._add(Fault("huge", size=int(megabytes * 1024 * 1024)), count, method, path)

    def endless_pages(self, *, path: str | None = None) -> None:
        """From now on every list page links to a next page, for ever, each with a new URL."""
        with self._lock:
            self._rules.append(_Rule(Fault("endless"), None, math.inf, "GET", path))

    def drop_after_commit(
        self, count: int = 1, *, method: str | None = "POST", path: str | None = "/dns-records"
    ) -> None:
        """Process the request (the write is committed), then close the connection unanswered."""
        self._add(Fault("drop"), count, method, path)

    def error_after_commit(
        self,
        count: int = 1,
        *,
        status: int = 500,
        method: str | None = "POST",
        path: str | None = "/dns-records",
    ) -> None:
        """Process the request (the write is committed), then answer `status` instead."""
        self._add(Fault("commit_error", status=status), count, method, path)

    def truncate_json(
        self, count: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Process the request, then send only the first half of its JSON body (status kept)."""
        self._add(Fault("truncate"), count, method, path)

    def expire_token(self) -> None:
        """From now on the token is refused with 401, as when its contact is deleted."""
        with self._lock:
            self._token_expired = True

    def fail_jobs(self, count: int = 1, *, method: str | None = None) -> None:
        """The next `count` jobs (of writes with `method`: POST creates, DELETE deletes) end
        `failed`: the write never reaches DNS, a created record stays listed by the API."""
        with self._lock:
            self._job_rules.append(_JobRule("failed", count, _upper(method)))

    def stick_jobs(self, count: int = 1, *, method: str | None = None) -> None:
        """The next `count` jobs stay `pending` for ever; their writes never reach DNS."""
        with self._lock:
            self._job_rules.append(_JobRule("stuck", count, _upper(method)))

    def clear(self) -> None:
        """Remove every fault, including an expired token."""
        with self._lock:
            self._rules.clear()
            self._job_rules.clear()
            self._token_expired = False

    # -- consulted by the simulator ------------------------------------------------------------

    @property
    def token_expired(self) -> bool:
        with self._lock:
            return self._token_expired

    def before(self, method: str, path: str) -> Fault | None:
        """The fault that answers instead of the API, if any (it is used up)."""
        return self._take(_BEFORE, method, path)

    def after(self, method: str, path: str) -> Fault | None:
        """The fault that spoils a successful answer, if any (it is used up)."""
        return self._take(_AFTER, method, path)

    def endless(self, path: str) -> bool:
        """Whether list pages at `path` never end (`endless_pages`)."""
        now = self._clock.monotonic()
        with self._lock:
            return any(
                rule.fault.kind == "endless" and rule.matches("GET", path, now)
                for rule in self._rules
            )

    def job_outcome(self, method: str) -> JobOutcome:
        """How the job of a write made with `method` will end."""
        with self._lock:
            for rule in self._job_rules:
                if rule.remaining > 0 and rule.method in (None, method):
                    rule.remaining -= 1
                    return rule.outcome
        return "done"

    def _add(self, fault: Fault, count: int, method: str | None, path: str | None) -> None:
        if count < 1:
            raise ValueError("a fault needs a count of at least 1")
        with self._lock:
            self._rules.append(_Rule(fault, count, math.inf, _upper(method), path))

    def _take(self, kinds: frozenset[FaultKind], method: str, path: str) -> Fault | None:
        now = self._clock.monotonic()
        with self._lock:
            for rule in self._rules:
                if rule.fault.kind in kinds and rule.matches(method, path, now):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    if rule.fault.kind == "storm" and rule.remaining is None:
                        left = max(1, math.ceil(rule.until - now))
                        return Fault("storm", status=429, retry_after=left)
                    return rule.fault
        return None


def _upper(method: str | None) -> str | None:
    return None if method is None else method.upper()
