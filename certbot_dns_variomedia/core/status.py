"""What one round of the propagation wait found: per name and server, per server, in all.

The wait (`propagation`) decides from these when to stop; progress lines, timeout messages and
``variomedia-dns check`` read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nameservers import NameServer


@dataclass(frozen=True)
class PairResult:
    """What one server showed for one name in the latest round that asked it."""

    name: str
    server: NameServer
    expected: frozenset[str]
    seen: frozenset[str] = frozenset()
    """The expected values the answer contained (other values are ignored)."""
    error: str | None = None
    """Why the server gave no usable answer (timeout, SERVFAIL, ...); ``None`` if it answered."""
    queried: bool = True
    """``False`` when carried over from an earlier round because it was already complete."""
    lame: bool = False
    """The server answered without the AA bit: it does not serve the zone (see `TxtAnswer`)."""

    @property
    def confirmed(self) -> bool:
        """The server shows every expected value at this name."""
        return self.error is None and self.seen >= self.expected

    @property
    def missing(self) -> frozenset[str]:
        """Expected values not (yet) in the server's answer."""
        return self.expected - self.seen


class _Tally:
    """Counts over a set of (name, server) results: one server's, or a whole round's."""

    results: tuple[PairResult, ...]

    @property
    def visible(self) -> int:
        return sum(len(r.seen) for r in self.results)

    @property
    def total(self) -> int:
        return sum(len(r.expected) for r in self.results)

    @property
    def done(self) -> bool:
        return all(r.confirmed for r in self.results)


@dataclass(frozen=True)
class ServerStatus(_Tally):
    """One server's part of a round: every name it must show."""

    server: NameServer
    results: tuple[PairResult, ...]

    @property
    def confirmed(self) -> tuple[str, ...]:
        """Names whose every value this server shows."""
        return tuple(r.name for r in self.results if r.confirmed)

    @property
    def missing(self) -> dict[str, frozenset[str]]:
        """Name → values not seen yet, for names the server answered for."""
        return {r.name: r.missing for r in self.results if r.error is None and not r.confirmed}

    @property
    def failing(self) -> dict[str, str]:
        """Name → why the server gave no usable answer."""
        return {r.name: r.error for r in self.results if r.error is not None}

    def describe(self) -> str:
        """``ns2.variomedia.de (203.0.113.2): 1 of 2 records visible (timeout after 3 s)``."""
        text = f"{self.server}: {self.visible} of {self.total} records visible"
        reasons = sorted(set(self.failing.values()))
        return f"{text} ({'; '.join(reasons)})" if reasons else text


@dataclass(frozen=True)
class PropagationStatus(_Tally):
    """The state after one round: every (name, server) pair of the plan."""

    results: tuple[PairResult, ...]
    round: int = 1
    queries: int = 0
    """Queries sent in this round (pairs already complete are not asked again)."""
    elapsed: float = 0.0
    """Seconds since the wait began (set by :func:`wait`)."""

    @property
    def servers(self) -> tuple[ServerStatus, ...]:
        """Per-server view, in the order servers first appear in the plan."""
        grouped: dict[NameServer, list[PairResult]] = {}
        for result in self.results:
            grouped.setdefault(result.server, []).append(result)
        return tuple(ServerStatus(server, tuple(rs)) for server, rs in grouped.items())

    @property
    def lagging(self) -> tuple[ServerStatus, ...]:
        """Servers that do not show everything yet."""
        return tuple(s for s in self.servers if not s.done)

    def summary(self) -> str:
        """``3 of 4 records visible on 2 name servers``."""
        count = len(self.servers)
        return (
            f"{self.visible} of {self.total} records visible on {count} name "
            f"server{'s' if count != 1 else ''}"
        )
