"""What a verdict is made of: findings with a severity, and the exit status they lead to."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    """Ordered, and each is also the exit status it leads to."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    """One reason: how bad, about what (e.g. ``mx1.example.de 192.0.2.1:25``), and why."""

    severity: Severity
    subject: str
    message: str


@dataclass(frozen=True)
class Verdict:
    """The findings, worst first, and the exit status they lead to."""

    findings: tuple[Finding, ...]

    @property
    def status(self) -> int:
        return max((int(f.severity) for f in self.findings), default=0)

    @property
    def label(self) -> str:
        return ("ok", "warning", "critical")[self.status]

    @property
    def reasons(self) -> tuple[Finding, ...]:
        """The findings that made the status (warnings and criticals)."""
        return tuple(f for f in self.findings if f.severity > Severity.INFO)
