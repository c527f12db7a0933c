"""docs/reliability.md says exactly what the tests assert: it is rendered from their rows, and
every test of the reliability suite has a row, so none proves something the page does not say.
"""

from __future__ import annotations

import importlib
import inspect

from .document import DOCUMENT, MODULES, main, render
from .rows import BAD_INPUTS, CLAIMS, FAULTS, PROMISES, Row


def test_document_is_current() -> None:
    """Fails when a row, a message or a bound changed and the page was not regenerated."""
    current = DOCUMENT.read_text(encoding="utf-8") if DOCUMENT.exists() else ""
    assert current == render() + "\n", (
        "docs/reliability.md is out of date: run python tests/reliability/document.py --write"
    )
    assert main(["--check"]) == 0


def test_every_test_declares_its_row() -> None:
    undeclared = [
        f"{name}.{func_name}"
        for name in MODULES
        for func_name, func in inspect.getmembers(importlib.import_module(name), inspect.isfunction)
        if func_name.startswith("test_") and "reliability_row" not in func.__dict__
    ]
    assert undeclared == []
    rows: list[Row] = [*FAULTS, *BAD_INPUTS, *CLAIMS]
    tests = [r.test for r in rows]
    assert len(tests) == len(set(tests))


def test_rows_promise_what_they_can_prove() -> None:
    """Bounds that mean something: at least 15 faults and 15 bad inputs (the issue's lists),
    every bound ordered, every message non-empty, every promise number real."""
    assert len(FAULTS) >= 15
    assert len(BAD_INPUTS) >= 15
    for fault in FAULTS:
        assert fault.requests[0] <= fault.requests[1], fault.test
        assert fault.rate_limited[0] <= fault.rate_limited[1], fault.test
        assert all(run.says or run.result == "killed" for run in fault.runs), fault.test
        claims_less = not {1, 2, 3, 4} <= set(fault.promises)
        assert claims_less == bool(fault.limit), f"{fault.test}: say why it claims less"
    rows: list[Row] = [*FAULTS, *BAD_INPUTS, *CLAIMS]
    for row in rows:
        assert set(row.promises) <= set(PROMISES), row.test
