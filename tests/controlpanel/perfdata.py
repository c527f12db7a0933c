"""Nagios performance data read back the way a monitoring system reads it.

The plugin guidelines' grammar: ``'label'=value[UOM];[warn];[crit];[min];[max]``, items
separated by spaces, labels quoted when they hold spaces. A test that parses with this checks
that what cp-audit prints is what a graphing tool will see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ITEM = re.compile(
    r"(?:'(?P<quoted>[^']+)'|(?P<plain>[^\s'=]+))="
    r"(?P<value>-?\d+(?:\.\d+)?)(?P<unit>[a-zA-Z%]*)"
    r"(?:;(?P<warn>[^;\s]*))?(?:;(?P<crit>[^;\s]*))?"
    r"(?:;(?P<min>[^;\s]*))?(?:;(?P<max>[^;\s]*))?(?=\s|$)"
)


@dataclass(frozen=True)
class Perf:
    value: float
    unit: str
    warn: str
    crit: str
    minimum: str
    maximum: str


def split_status_line(line: str) -> tuple[str, dict[str, Perf]]:
    """The text before ``|`` and the performance data after it, by label."""
    text, bar, data = line.partition("|")
    assert bar, f"no performance data in {line!r}"
    found: dict[str, Perf] = {}
    rest = data.strip()
    while rest:
        match = _ITEM.match(rest)
        assert match is not None, f"not performance data: {rest[:60]!r}"
        label = match["quoted"] or match["plain"]
        assert label not in found, f"label {label} twice"
        found[label] = Perf(
            float(match["value"]),
            match["unit"],
            match["warn"] or "",
            match["crit"] or "",
            match["min"] or "",
            match["max"] or "",
        )
        rest = rest[match.end() :].strip()
    return text.rstrip(), found
