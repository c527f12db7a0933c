"""Wait until every authoritative name server shows every TXT value the plugin wrote.

The CA validates against whichever authoritative server its resolver happens to ask, so one
lagging server is enough for a failed challenge (and Let's Encrypt's failed-validation limit).
Instead of sleeping a fixed time we ask each server directly, round after round, until each one
answers with all values. DNS queries are free, unlike the rate-limited API, so rounds can be
frequent; a (name, server) pair seen complete once is not asked again.

A value counts as visible when the server's answer contains it, whatever else is there (old
challenges of other runs, other certificates' values). Values compare exactly; names
case-insensitively (they are normalized).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import NotAuthoritativeError, PropagationError
from ..nameservers import NameServer
from ..resolver import Resolver, normalize_name
from .status import PairResult, PropagationStatus, ServerStatus

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "Expectation",
    "PairResult",
    "Plan",
    "PropagationStatus",
    "ServerStatus",
    "check",
    "wait",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_WORKERS = 8
"""Queries in flight at once: enough for two zones' servers, polite to everyone's servers."""

_TIMEOUT_OPTION = "--dns-variomedia-propagation-seconds"
_MAX_ERROR_LINES = 12
LAME_ROUNDS = 3
"""Rounds in a row a server may answer a name without the AA bit before the wait gives up: such
an answer does not change with time (one or two may catch a server that is reloading)."""


@dataclass(frozen=True)
class Expectation:
    """One name, the values it must show, and the servers that must show them."""

    name: str
    values: frozenset[str]
    servers: tuple[NameServer, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", normalize_name(self.name))
        object.__setattr__(self, "values", frozenset(self.values))
        object.__setattr__(self, "servers", tuple(dict.fromkeys(self.servers)))
        if not self.values:
            raise ValueError(f"expectation for {self.name} has no values")
        if not self.servers:
            raise ValueError(f"expectation for {self.name} has no name servers to ask")


@dataclass(frozen=True)
class Plan:
    """Everything to see before the CA may validate: one :class:`Expectation` per name."""

    expectations: tuple[Expectation, ...]

    @classmethod
    def build(
        cls,
        records: Iterable[tuple[str, str]],
        servers: Mapping[str, Sequence[NameServer]],
    ) -> Plan:
        """Group ``(fqdn, value)`` records by name; ``servers`` maps each fqdn to its servers.

        Names are compared normalized, so ``servers`` may use any spelling of a name.
        """
        wanted: dict[str, set[str]] = {}
        for name, value in records:
            wanted.setdefault(normalize_name(name), set()).add(value)
        by_name = {normalize_name(name): tuple(found) for name, found in servers.items()}
        missing = sorted(name for name in wanted if not by_name.get(name))
        if missing:
            raise ValueError(f"no name servers given for {', '.join(missing)}")
        return cls(
            tuple(
                Expectation(name, frozenset(values), by_name[name])
                for name, values in wanted.items()
            )
        )

    @property
    def total(self) -> int:
        """Records to see, counted once per server that must show them."""
        return sum(len(e.values) * len(e.servers) for e in self.expectations)

    @property
    def records(self) -> int:
        """TXT records to see, each counted once: what progress lines count."""
        return sum(len(e.values) for e in self.expectations)

    @property
    def servers(self) -> tuple[NameServer, ...]:
        """Every server that must show something, each once."""
        return tuple(dict.fromkeys(s for e in self.expectations for s in e.servers))


def check(
    plan: Plan,
    resolver: Resolver,
    *,
    previous: PropagationStatus | None = None,
    executor: Executor | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> PropagationStatus:
    """One round: ask every (name, server) pair not confirmed in ``previous``, in parallel.

    Returns as soon as every query has answered or timed out (each is bounded by the
    resolver's timeout). ``executor`` lets :func:`wait` reuse one thread pool for all rounds.
    """
    done_before = {
        (r.name, r.server): r for r in (previous.results if previous else ()) if r.confirmed
    }
    pairs = [(e, server) for e in plan.expectations for server in e.servers]
    to_ask = [(e, s) for e, s in pairs if (e.name, s) not in done_before]

    answers: dict[tuple[str, NameServer], PairResult] = {}
    if to_ask:
        own_pool = executor is None
        pool = executor or ThreadPoolExecutor(
            max_workers=max(1, min(max_workers, len(to_ask))), thread_name_prefix="propagation"
        )
        try:
            futures = {
                (e.name, s): (e, pool.submit(resolver.query_txt, s, e.name)) for e, s in to_ask
            }
            for key, (expectation, future) in futures.items():
                answer = future.result()
                answers[key] = PairResult(
                    name=expectation.name,
                    server=key[1],
                    expected=expectation.values,
                    seen=expectation.values & answer.values,
                    error=answer.error,
                    lame=answer.lame,
                )
        finally:
            if own_pool:
                pool.shutdown(wait=True)

    results = []
    for expectation, server in pairs:
        key = (expectation.name, server)
        if key in done_before:
            results.append(dataclasses.replace(done_before[key], queried=False))
        else:
            results.append(answers[key])
    return PropagationStatus(
        results=tuple(results),
        round=previous.round + 1 if previous else 1,
        queries=len(to_ask),
    )


def wait(
    plan: Plan,
    resolver: Resolver,
    *,
    timeout: float,
    interval: float,
    clock: Clock = SYSTEM_CLOCK,
    on_round: Callable[[PropagationStatus], None] | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    timeout_option: str = _TIMEOUT_OPTION,
    lame_rounds: int = LAME_ROUNDS,
) -> PropagationStatus:
    """Check round after round until every server shows everything, or ``timeout`` passes.

    The first round starts at once, the next ``interval`` seconds after the previous one ended,
    and one last round runs when the time is up (a round is never cut short, so the wait can
    end later than ``timeout`` by one round: at most twice the resolver's query timeout).
    ``on_round(status)`` is called after every round; an exception it raises ends the wait and
    propagates. On timeout raises
    :class:`PropagationError` naming the lagging servers and what they lack; ``timeout_option``
    is the option the message tells the user to raise. A server that answers a name without the
    AA bit ``lame_rounds`` rounds in a row ends the wait at once with
    :class:`NotAuthoritativeError`: it does not serve the zone, and time will not change that.
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    if timeout < 0:
        raise ValueError("timeout cannot be negative")
    start = clock.monotonic()
    deadline = start + timeout
    logger.info(
        "Waiting up to %g s until %d TXT record(s) are visible on every authoritative name "
        "server: %s",
        timeout,
        plan.records,
        ", ".join(sorted(str(s) for s in plan.servers)),
    )
    reported: dict[NameServer, str] = {}
    lame: dict[tuple[str, NameServer], int] = {}  # rounds in a row without the AA bit
    status: PropagationStatus | None = None
    with ThreadPoolExecutor(
        max_workers=max(1, max_workers), thread_name_prefix="propagation"
    ) as pool:
        while True:
            status = check(plan, resolver, previous=status, executor=pool)
            now = clock.monotonic()
            status = dataclasses.replace(status, elapsed=now - start)
            _log_round(status, reported)
            if on_round is not None:
                on_round(status)
            _give_up_on_lame(status, lame, lame_rounds)
            if status.done:
                logger.info(
                    "All %d TXT record(s) are visible on all %d name servers after %.1f s",
                    plan.records,
                    len(plan.servers),
                    status.elapsed,
                )
                return status
            if now >= deadline:
                raise PropagationError(_timeout_message(status, timeout, timeout_option))
            clock.sleep(min(interval, deadline - now))


def _give_up_on_lame(
    status: PropagationStatus, lame: dict[tuple[str, NameServer], int], rounds: int
) -> None:
    """Count each (name, server) pair's answers without the AA bit in a row; raise when a
    server reaches `rounds`."""
    for result in status.results:
        if result.queried:
            key = (result.name, result.server)
            lame[key] = lame.get(key, 0) + 1 if result.lame else 0
    for server in status.servers:
        names = tuple(r.name for r in server.results if lame.get((r.name, r.server), 0) >= rounds)
        if names:
            raise NotAuthoritativeError(
                f"The name server {server.server} is not authoritative for {', '.join(names)}: "
                "it answered "
                f"without the AA bit {rounds} times in a row (a recursive resolver or forwarder "
                "does, and so does a server that does not serve the zone), so it cannot tell "
                "what the zone's own name servers show, however long one waits. Ask the zone's "
                "authoritative name servers instead.",
                server=server.server,
                names=names,
            )


def _log_round(status: PropagationStatus, reported: dict[NameServer, str]) -> None:
    """INFO when a server's picture changes (so the log shows progress, not repetition)."""
    for server in status.servers:
        if server.done:
            line = f"{server.server}: all {server.total} records visible"
        else:
            line = f"Waiting for {server.describe()}"
        level = logging.INFO if reported.get(server.server) != line else logging.DEBUG
        logger.log(level, "%s", line)
        reported[server.server] = line
    logger.debug(
        "Propagation round %d: %s, %d quer%s",
        status.round,
        status.summary(),
        status.queries,
        "y" if status.queries == 1 else "ies",
    )


def _timeout_message(status: PropagationStatus, timeout: float, option: str) -> str:
    lines: list[str] = []
    for server in status.lagging:
        for result in server.results:
            if result.confirmed:
                continue
            if result.error is not None:
                what = f"no usable answer ({result.error})"
            else:
                shown = ", ".join(f'"{v}"' for v in sorted(result.missing))
                what = (
                    f"missing {shown} ({len(result.seen)} of {len(result.expected)} values visible)"
                )
            lines.append(f"  - {server.server}: {result.name}: {what}")
    if len(lines) > _MAX_ERROR_LINES:
        hidden = len(lines) - _MAX_ERROR_LINES
        lines = [*lines[:_MAX_ERROR_LINES], f"  ... and {hidden} more"]
    example = status.lagging[0] if status.lagging else None
    dig = ""
    if example is not None:
        name = next(r.name for r in example.results if not r.confirmed)
        where = example.server
        port = f" -p {where.port}" if where.port != 53 else ""
        dig = f" (e.g. `dig +norec TXT {name} @{where.address}{port}`)"
    servers = ", ".join(str(s.server) for s in status.lagging)
    return (
        f"The TXT records are not visible on every authoritative name server after "
        f"{timeout:g} s ({status.summary()}); lagging: {servers}\n"
        + "\n".join(lines)
        + f"\nIf the name servers are only slow, raise {option} (now {timeout:g}). Otherwise "
        f"check that these servers really serve the zone and answer queries from here{dig}."
    )
