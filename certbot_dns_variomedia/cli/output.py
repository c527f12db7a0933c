"""How the ``variomedia-dns`` command talks: results on stdout, everything else on stderr.

People get aligned tables and plain sentences; scripts ask for ``--json`` and get one JSON
document on stdout. Progress, warnings and errors always go to stderr, so ``| jq`` and
``> file`` see results only. The manual hooks are the exception: certbot shows a hook's stderr
as a warning, so hooks send their progress to stdout (see `setup_logging`).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, TextIO

PACKAGE_LOGGER = "certbot_dns_variomedia"

_handler: logging.Handler | None = None


class _Formatter(logging.Formatter):
    """Plain lines for people: the message alone, prefixed only when it is not good news."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and self.debug:
            text += "\n" + self.formatException(record.exc_info)
        if self.debug:
            return f"{record.levelname.lower()}: {record.name}: {text}"
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        if record.levelno >= logging.WARNING:
            return f"warning: {text}"
        return text


def setup_logging(verbosity: int, stream: TextIO | None = None) -> None:
    """Show the package's log on `stream` (stderr): warnings always, progress (INFO) unless
    ``verbosity < 0`` (``--quiet``), debug lines with ``verbosity > 0`` (``--verbose``).

    Calling it again replaces the earlier set-up (tests call `cli.main` many times)."""
    global _handler  # noqa: PLW0603 - one handler per process, replaced on every call
    logger = logging.getLogger(PACKAGE_LOGGER)
    if _handler is not None:
        logger.removeHandler(_handler)
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    _handler = logging.StreamHandler(stream or sys.stderr)
    _handler.setFormatter(_Formatter(debug=verbosity > 0))
    logger.addHandler(_handler)
    logger.setLevel(level)
    logger.propagate = False


def say(text: str = "", *, file: TextIO | None = None) -> None:
    """A result line for people (stdout unless told otherwise)."""
    print(text, file=file or sys.stdout, flush=True)


def progress(text: str) -> None:
    """A progress line: stderr, so it never mixes with results."""
    print(text, file=sys.stderr, flush=True)


def print_json(data: Any) -> None:
    """One JSON document on stdout, the only thing a ``--json`` run prints there."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters with an ellipsis (tables only; JSON keeps it whole)."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned on the widest cell; the last column is not padded."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        return "  ".join([*padded, cells[-1]]).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def confirm(question: str, *, stdin: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Ask on the terminal; only an explicit yes counts (end of input is a no)."""
    out = stderr or sys.stderr
    out.write(f"{question} [y/N] ")
    out.flush()
    answer = (stdin or sys.stdin).readline()
    if not answer.endswith("\n"):
        out.write("\n")
    return answer.strip().lower() in ("y", "yes")
