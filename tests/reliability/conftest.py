"""Fixtures of the reliability suite, and the closing figures printed after it ran.

Each test gets stages of its own (simulator, Pebble, certbot directories, pacing ledger): a
fault injected in one row can never leak into the next.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from certbot_dns_variomedia.testing.demo.sandbox import Sandbox
from certbot_dns_variomedia.testing.variomedia.simulator import SimConfig

from .harness import CONFIG, Stage
from .rows import BAD_INPUTS, FAULTS, MEASURED, Row, row_of

MakeStage = Callable[..., Stage]


@pytest.fixture
def make_stage(tmp_path: Path) -> Iterator[MakeStage]:
    """Start a stage with the given simulator configuration; all are stopped afterwards."""
    with contextlib.ExitStack() as stack:

        def make(config: SimConfig = CONFIG, name: str = "stage") -> Stage:
            box = stack.enter_context(Sandbox(tmp_path / name, config))
            stage = Stage(box)
            stage.seed()
            return stage

        yield make


@pytest.fixture
def stage(make_stage: MakeStage) -> Stage:
    return make_stage()


@pytest.fixture
def row(request: pytest.FixtureRequest) -> Row:
    """The row the running test declared."""
    return row_of(request.function)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The closing figures: rows that kept every promise, inputs tried, records leaked."""
    if not MEASURED:
        return
    faults = {r.test for r in FAULTS}
    bad = {r.test for r in BAD_INPUTS}
    survived = sum(1 for t, m in MEASURED.items() if t in faults and m.done)
    tried = sum(1 for t, m in MEASURED.items() if t in bad and m.done)
    leaked = sum(m.leaked for m in MEASURED.values())
    write = terminalreporter.write_line
    terminalreporter.section("reliability figures")
    for test, m in sorted(MEASURED.items()):
        state = "ok" if m.done else "FAILED"
        write(
            f"{state:6} {m.requests:3} requests  {m.rate_limited:2} x 429  "
            f"{m.leaked} leaked  {test.split('::')[-1]}"
        )
    write(
        f"faults survived: {survived} of {len(faults)}; bad inputs tried: {tried} of "
        f"{len(bad)}; records leaked: {leaked}"
    )
