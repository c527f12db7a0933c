"""The rows of docs/reliability.md, declared by the tests that prove them.

Every test of the fault matrix and of the bad-input table carries its row (``@fault_row``,
``@bad_input``); every other proof carries its claim (``@proves``). The row holds what the
test asserts: the messages the user sees, the outcome of each certbot run, the bounds on the
API requests. `document.py` renders the rows into docs/reliability.md and `test_document.py`
fails when the file differs, so the document says exactly what the tests assert.

While the tests run, `measure` notes what actually happened (requests, 429s, records leaked);
the terminal summary of `conftest.py` adds it up into the closing figures.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TypeVar

F = TypeVar("F", bound=Callable[..., object])

PROMISES: dict[int, str] = {
    1: "It never leaves a challenge record behind that it created (after success, failure, "
    "timeout, or a killed run followed by the next run).",
    2: "It never creates a duplicate record and never changes or deletes a record it did not "
    "create.",
    3: "It never draws the API's 429 with its own traffic, and under a 429 storm or 5xx bursts "
    "it backs off and either finishes or stops with a clear error within its time bound: it "
    "never hammers the API into a lockout.",
    4: "Every failure ends with one message that names the cause and the fix; the original "
    "error of a failed order is never hidden by a cleanup error.",
    5: "The API token and Control Panel passwords never appear in logs (certbot's "
    "letsencrypt.log included), error messages, reprs, or process arguments; credentials "
    "files with unsafe permissions are warned about; TLS verification is never off for a "
    "non-loopback URL.",
    6: "It never writes through, or trusts, a file or directory that another user could plant "
    "or change (pacing ledger, state file, account key), even as root with a user's "
    "environment; and no file it keeps can make it hang, crash, or delete a record.",
    7: "No server (the API, the CA, DNS) can hold a run beyond its time bound, fill its "
    "memory, redirect it, or make it write a record for a name that was not asked for.",
}

RunResult = Literal["issued", "failed", "killed"]


@dataclass(frozen=True)
class Run:
    """One certbot run of a scenario: how it must end and what it must print.

    ``says`` are fragments of certbot's output (stdout and stderr together); placeholders
    such as ``{credentials}`` are filled in by the test with its own paths and ports.
    """

    result: RunResult
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultRow:
    """One fault of the matrix, end to end with certbot, Pebble and the simulator."""

    fault: str  # what goes wrong, in the user's words
    made_by: str  # how the test makes it happen
    runs: tuple[Run, ...]
    requests: tuple[int, int]  # API requests over all runs: at least, at most
    rate_limited: tuple[int, int] = (0, 0)  # 429 answers over all runs: at least, at most
    promises: tuple[int, ...] = (1, 2, 3, 4)
    together: bool = False  # the runs run at the same time, not one after the other
    limit: str = ""  # for a row that claims fewer promises: why, in the document's words
    test: str = ""

    @property
    def survived(self) -> str:
        """The row's result in one phrase, for the table."""
        first = self.runs[0].result
        if self.together:
            return "all issued" if all(r.result == "issued" for r in self.runs) else "mixed"
        if len(self.runs) == 1:
            return "certificate issued" if first == "issued" else "clean failure"
        tail = ", then ".join("issued" if r.result == "issued" else r.result for r in self.runs[1:])
        return f"{'issued' if first == 'issued' else first}, next run {tail}"


@dataclass(frozen=True)
class BadInputRow:
    """One bad input: through which door it comes, the exact message, what was written."""

    given: str  # the input, in the user's words
    door: Literal[
        "certbot",
        "certbot (as a user without read access)",
        "certbot --manual with variomedia-dns hooks",
        "variomedia-dns",
        "variomedia-dns issue",
        "cp-audit",
        "client",
    ]
    result: Literal[
        "refused by the plugin",
        "refused by the command",
        "refused by certbot",
        "refused by the CA",
        "works",
        "works, with a warning",
        "split and complete",
        "refused by the Control Panel",
    ]
    says: tuple[str, ...]
    written: str  # what the test proves about writes
    requests: tuple[int, int]
    promises: tuple[int, ...] = (4,)
    test: str = ""


@dataclass(frozen=True)
class Claim:
    """Any other proof: a property test, a secrecy or TLS check."""

    section: Literal["secrets", "properties"]
    claim: str
    promises: tuple[int, ...] = ()
    test: str = ""


Row = FaultRow | BadInputRow | Claim

FAULTS: list[FaultRow] = []
BAD_INPUTS: list[BadInputRow] = []
CLAIMS: list[Claim] = []


@dataclass
class Measured:
    """What one row's test observed (the document has the bounds, this has the figures)."""

    requests: int = 0
    rate_limited: int = 0
    leaked: int = 0
    done: bool = False  # every assertion of the row passed


MEASURED: dict[str, Measured] = {}


def _test_id(func: Callable[..., object]) -> str:
    """``tests/reliability/test_x.py::test_y``: the node id pytest gives the test."""
    path = Path(inspect.getfile(func)).resolve()
    root = Path(__file__).resolve().parents[2]
    return f"{path.relative_to(root)}::{func.__name__}"


def declare(row: Row) -> Callable[[F], F]:
    """Attach `row` to the test below it and add it to the document's rows."""

    def mark(func: F) -> F:
        done: Row = replace(row, test=_test_id(func))
        if isinstance(done, FaultRow):
            FAULTS.append(done)
        elif isinstance(done, BadInputRow):
            BAD_INPUTS.append(done)
        else:
            CLAIMS.append(done)
        func.__dict__["reliability_row"] = done
        return func

    return mark


def row_of(func: Callable[..., object]) -> Row:
    """The row a test declared (KeyError for a test that declared none)."""
    found: Row = func.__dict__["reliability_row"]
    return found


def measure(test: str) -> Measured:
    """The figures of one row's test, created on first use."""
    return MEASURED.setdefault(test, Measured())
