"""cp-audit as a Nagios/Icinga plugin: a status line with performance data, the report after it.

The plugin output format gives ``|`` a meaning (performance data follows), so it appears once,
in the status line, and nowhere in the text: a ``|`` from a certificate subject or a server
message becomes ``/``. The labels come from ``metrics`` and are documented in docs/cp-audit.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from .findings import Verdict
from .metrics import Figure, figures
from .report_text import render_text
from .results import AuditResult

LABELS = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _label(text: str) -> str:
    """A perfdata label: quoted when it holds anything but letters, digits and ``._-``."""
    plain = text.replace("'", "").replace("=", "")
    if all(c.isalnum() or c in "._-" for c in plain):
        return plain
    return f"'{plain}'"


def perfdata(measured: Sequence[Figure]) -> str:
    """``label=value[unit];warn;crit;min;max`` for each figure, space-separated."""
    return " ".join(
        f"{_label(f.label)}={_number(f.value)}{f.unit};{f.warn};{f.crit};{f.minimum};{f.maximum}"
        for f in measured
    )


def render_nagios(result: AuditResult, verdict: Verdict) -> str:
    """The plugin output: ``CP-AUDIT <STATE> - <first reason> | <perfdata>``, then the report."""
    report = render_text(result, verdict).replace("|", "/")
    reasons = verdict.reasons
    if reasons:
        first = reasons[0]
        summary = f"{first.subject}: {first.message}"
        if len(reasons) > 1:
            summary += f" (and {len(reasons) - 1} more)"
    else:
        summary = report.splitlines()[0]
    line = f"CP-AUDIT {LABELS[verdict.status]} - {summary.replace('|', '/')}"
    data = perfdata(figures(result))
    return f"{line} | {data}\n{report}" if data else f"{line}\n{report}"
