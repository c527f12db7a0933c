"""Time and sleeping in one place, so waits can be driven by tests without touching the network."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the waiting code needs from time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (system-wide on Linux)."""

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (never negative)."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch, for timestamps users read."""


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def time(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()
