"""Client-side pacing for the Variomedia API: at most 10 requests in any 10 seconds per IP.

The API answers 429 past its limit and locks out clients that cause many errors, so the client
never sends a request the limit would refuse. Each request is counted from the moment its answer
*arrived*: the server saw it earlier than that, so a new request sent one full window after that
moment is outside the server's window too, whatever the network latency.

Processes on one machine share one IP and therefore one limit (two certbot runs at 3 a.m., the
manual hooks of one run). A `FileLedger` lets them share one count through a small locked file.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..clock import SYSTEM_CLOCK, Clock

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
DEFAULT_WINDOW = 10.0
# A request whose process died before the answer came still held its slot; after this long it
# cannot be in the server's window any more.
STALE_AFTER = 120.0
# Added to every computed wait: timer and scheduler slack must never make us a little early.
MARGIN = 0.05
_ID = itertools.count()


@dataclass
class Entry:
    """One request: who sent it, when, and when its answer arrived (``None``: in flight)."""

    key: str
    sent: float
    answered: float | None = None


@dataclass
class LedgerState:
    """Requests that may still be in the server's window, and any pause the server asked for."""

    entries: list[Entry] = field(default_factory=list)
    pause_until: float = 0.0


class Ledger(Protocol):
    """Where the pacer keeps its count; `locked` gives exclusive access for one update."""

    def locked(self) -> contextlib.AbstractContextManager[LedgerState]: ...


class MemoryLedger:
    """A count private to this process."""

    def __init__(self) -> None:
        self._state = LedgerState()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[LedgerState]:
        with self._lock:
            yield self._state


class FileLedger:
    """A count shared by every process of this user through a locked JSON file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[LedgerState]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            with os.fdopen(fd, "r+", encoding="utf-8") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                state = self._load(f.read())
                yield state
                f.seek(0)
                f.truncate()
                entries = [[e.key, e.sent, e.answered] for e in state.entries]
                json.dump({"entries": entries, "pause_until": state.pause_until}, f)
                f.flush()

    def _load(self, text: str) -> LedgerState:
        try:
            raw = json.loads(text) if text.strip() else {}
            entries = [
                Entry(str(key), float(sent), None if answered is None else float(answered))
                for key, sent, answered in raw.get("entries", [])
            ]
            return LedgerState(entries=entries, pause_until=float(raw.get("pause_until", 0.0)))
        except (ValueError, TypeError, AttributeError):
            # A process killed in the middle of a write; the worst case is one window of
            # caution lost, which the server's Retry-After then covers.
            logger.debug("Pacing ledger %s was unreadable; starting a new count", self.path)
            return LedgerState()


def default_ledger_path(api_host: str) -> Path:
    """One ledger per API host in the user's cache directory (never a shared /tmp name)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in api_host) or "api"
    return Path(base) / "certbot-dns-variomedia" / f"pacing-{safe}.json"


class RequestPacer:
    """Blocks before a request until the rate limit has room for it."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        *,
        clock: Clock = SYSTEM_CLOCK,
        ledger: Ledger | None = None,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the rate limit needs at least one request per positive window")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()
        self.waited = 0.0  # seconds this pacer has held requests back, for benchmarks and logs

    def __repr__(self) -> str:
        return f"RequestPacer(limit={self.limit}, window={self.window})"

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot for the duration of one HTTP exchange."""
        key = self._acquire()
        try:
            yield
        finally:
            self._release(key)

    def pause(self, seconds: float) -> None:
        """No request from anyone sharing the ledger for `seconds` (the server's Retry-After)."""
        with self.ledger.locked() as state:
            state.pause_until = max(state.pause_until, self.clock.monotonic() + seconds)

    def _prune(self, state: LedgerState, now: float) -> None:
        def current(e: Entry) -> bool:
            if e.sent > now + 1.0:  # written before a reboot: monotonic time started again
                return False
            if e.answered is None:
                return now - e.sent < STALE_AFTER
            return e.answered > now - self.window

        state.entries = [e for e in state.entries if current(e)]
        if state.pause_until > now + 3600:  # from before a reboot
            state.pause_until = 0.0

    def _acquire(self) -> str:
        key = f"{os.getpid()}-{next(_ID)}"
        while True:
            with self.ledger.locked() as state:
                now = self.clock.monotonic()
                self._prune(state, now)
                if state.pause_until > now:
                    wait = state.pause_until - now
                elif len(state.entries) < self.limit:
                    state.entries.append(Entry(key, now))
                    return key
                else:
                    answered = [e.answered for e in state.entries if e.answered is not None]
                    # Every slot is held by a request still in flight: look again shortly.
                    wait = min(answered) + self.window - now if answered else 0.1
            wait = max(wait, 0.0) + MARGIN
            logger.debug("Pacing: holding the next API request back for %.2f s", wait)
            self.waited += wait
            self.clock.sleep(wait)

    def _release(self, key: str) -> None:
        with self.ledger.locked() as state:
            now = self.clock.monotonic()
            for entry in state.entries:
                if entry.key == key:
                    entry.answered = now
                    return
            # Pruned as stale while in flight (an answer slower than STALE_AFTER): count it now.
            state.entries.append(Entry(key, now, now))
