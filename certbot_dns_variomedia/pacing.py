"""Client-side pacing: never send a request the API's rate limit would refuse.

Variomedia's API allows 10 requests in any 10 seconds per IP, answers 429 past that and locks
out clients that cause many errors; the Control Panel client paces itself to a few a second.
Each request is counted from the moment its answer *arrived*: the server saw it earlier than
that, so a new request sent one full window after that moment is outside the server's window
too, whatever the network latency.

Processes on one machine share one IP and therefore one limit (two certbot runs at 3 a.m., the
manual hooks of one run). A `FileLedger` lets them share one count through a small locked file
(`paths.pacing_ledger_file` says where).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from . import safe_files
from .clock import SYSTEM_CLOCK, Clock
from .errors import ConfigurationError

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
DEFAULT_WINDOW = 10.0
# A request whose process died before the answer came still held its slot; after this long it
# cannot be in the server's window any more.
STALE_AFTER = 120.0
# Added to every computed wait: timer and scheduler slack must never make us a little early.
MARGIN = 0.05
# The longest pause a server's Retry-After may impose (a longer one is reported, not waited out);
# a longer pause in the ledger is not ours (written before a reboot, or forged).
MAX_PAUSE = 300.0
# How long a process waits for the ledger's lock: each holder keeps it for one short update.
LOCK_TIMEOUT = 10.0
# A ledger holds at most `limit` current entries; anything much larger is not ours.
MAX_ENTRIES = 1000
MAX_LEDGER_BYTES = 256 * 1024
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
    """A count shared by every process of this user through a locked JSON file.

    The file is opened only where no other user can reach it (`safe_files`), its lock is
    waited for at most `lock_timeout` seconds, and its content is checked, not trusted. Where
    any of this fails, the pacer counts in memory for the rest of the process, with one warning.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = LOCK_TIMEOUT,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._fallback: MemoryLedger | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[LedgerState]:
        with self._lock:
            fd = self._open()
            if fd is None:
                assert self._fallback is not None
                with self._fallback.locked() as state:
                    yield state
                return
            with os.fdopen(fd, "r+b") as f:
                state = self._load(f.read(MAX_LEDGER_BYTES + 1))
                yield state
                f.seek(0)
                f.truncate()
                entries = [[e.key, e.sent, e.answered] for e in state.entries]
                f.write(json.dumps({"entries": entries, "pause_until": state.pause_until}).encode())
                f.flush()

    def _open(self) -> int | None:
        """The ledger's descriptor, locked; ``None`` once the pacer counts in memory."""
        if self._fallback is not None:
            return None
        try:
            fd = safe_files.open_file(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except (ConfigurationError, OSError) as e:
            self._give_up(str(e) if isinstance(e, ConfigurationError) else e.strerror)
            return None
        if safe_files.lock(fd, self.lock_timeout, clock=self.clock):
            return fd
        os.close(fd)
        self._give_up(f"another process has held its lock for {self.lock_timeout:g} s")
        return None

    def _give_up(self, why: str | None) -> None:
        self._fallback = MemoryLedger()
        logger.warning(
            "The pacing ledger %s cannot be used (%s); pacing this process's API requests on "
            "its own. Runs at the same time may then draw the API's rate limit (429), which "
            "is waited out.",
            self.path,
            why or "unknown error",
        )

    def _load(self, raw: bytes) -> LedgerState:
        """The ledger's content where it has the expected shape; a fresh count otherwise."""
        try:
            if len(raw) > MAX_LEDGER_BYTES:
                raise ValueError("too large")
            data = json.loads(raw) if raw.strip() else {}
            if not isinstance(data, dict) or not isinstance(data.get("entries", []), list):
                raise ValueError("not a ledger")
            entries = [_entry(item) for item in data.get("entries", [])[:MAX_ENTRIES]]
            return LedgerState(entries=entries, pause_until=_moment(data.get("pause_until", 0.0)))
        except (ValueError, TypeError, RecursionError):
            # A process killed in the middle of a write; the worst case is one window of
            # caution lost, which the server's Retry-After then covers.
            logger.debug("Pacing ledger %s was unreadable; starting a new count", self.path)
            return LedgerState()


def _moment(value: object) -> float:
    """A finite number of seconds, or `ValueError` (JSON allows 1e999 and huge integers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("out of range") from None
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


def _entry(item: object) -> Entry:
    if not isinstance(item, list) or len(item) != 3 or not isinstance(item[0], str):
        raise ValueError("not an entry")
    key, sent, answered = item
    return Entry(key, _moment(sent), None if answered is None else _moment(answered))


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
        seconds = min(max(seconds, 0.0), MAX_PAUSE)
        with self.ledger.locked() as state:
            state.pause_until = max(state.pause_until, self.clock.monotonic() + seconds)

    def _prune(self, state: LedgerState, now: float) -> None:
        def current(e: Entry) -> bool:
            # In the future: written before a reboot (monotonic time started again), or forged.
            if e.sent > now + 1.0 or (e.answered is not None and e.answered > now + 1.0):
                return False
            if e.answered is None:
                return now - e.sent < STALE_AFTER
            return e.answered > now - self.window

        state.entries = [e for e in state.entries if current(e)]
        if state.pause_until > now + MAX_PAUSE + 1.0:  # from before a reboot, or forged
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
            # Never longer than one window at a time: the ledger is read again after each wait.
            wait = min(max(wait, 0.0), self.window) + MARGIN
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
