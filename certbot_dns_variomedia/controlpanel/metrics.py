"""The figures an audit measures, for monitoring: one list that both the Nagios performance data
and the Prometheus text are written from, so the two never disagree.

Each figure has a stable Nagios label (documented in docs/cp-audit.md) and a Prometheus metric
name with labels. Certificates count per host: the soonest expiry over its addresses.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .findings import Verdict
from .results import AuditResult, CheckedProbe


@dataclass(frozen=True)
class Figure:
    """One measured value.

    ``label``: the Nagios perfdata label. ``metric`` and ``labels``: its Prometheus name and
    labels. ``unit`` is the perfdata unit (``%`` or none; Prometheus gets a ratio instead of
    a percentage). ``warn``/``crit`` are Nagios ranges (``21:`` alerts below 21).
    """

    label: str
    metric: str
    labels: tuple[tuple[str, str], ...]
    value: float
    unit: str = ""
    warn: str = ""
    crit: str = ""
    minimum: str = ""
    maximum: str = ""

    @property
    def prometheus_value(self) -> float:
        return round(self.value / 100, 6) if self.unit == "%" else self.value


HELP = {
    "cp_audit_status": "cp-audit's exit status: 0 ok, 1 warning, 2 critical, 3 could not run.",
    "cp_audit_last_run_timestamp_seconds": "When the audit ran (UNIX time).",
    "cp_audit_certificate_days_left": "Days until the certificate expires (the soonest over "
    "the host's addresses; negative once expired).",
    "cp_audit_certificate_warn_days": "--warn-days: a warning below this many days.",
    "cp_audit_certificate_crit_days": "--crit-days: critical below this many days.",
    "cp_audit_emails": "E-mails in the period (--days), by direction.",
    "cp_audit_emails_unencrypted": "E-mails in the period that travelled without encryption.",
    "cp_audit_unencrypted_ratio": "Share of the period's e-mails without encryption (0 to 1).",
}
"""Every metric this module makes, with its help text."""


def _soonest(probes: Iterable[CheckedProbe], now: datetime.datetime) -> float | None:
    days = [p.probe.certificate.days_left(now) for p in probes if p.probe.certificate is not None]
    return min(days) if days else None


def _certificates(result: AuditResult) -> Iterator[Figure]:
    now = result.generated_at
    warn = f"{result.thresholds.warn_days:g}:"
    crit = f"{result.thresholds.crit_days:g}:"
    hosts = [("mx", "gateway", g.host, g.probes) for g in result.gateways]
    hosts += [("https", s.role, s.host, s.probes) for s in result.https]
    seen: set[str] = set()
    for kind, role, host, probes in hosts:
        days = _soonest(probes, now)
        label = f"days_{kind}_{host}"
        if days is None or label in seen:
            continue
        seen.add(label)
        yield Figure(
            label=label,
            metric="cp_audit_certificate_days_left",
            labels=(("kind", kind), ("role", role), ("host", host)),
            value=round(days, 1),
            warn=warn,
            crit=crit,
        )


def _mail(result: AuditResult) -> Iterator[Figure]:
    flow = result.mail_flow
    if flow is None:
        return
    limit = result.thresholds.warn_unencrypted_percent
    yield Figure(
        label="unencrypted_share",
        metric="cp_audit_unencrypted_ratio",
        labels=(),
        value=round(flow.unencrypted_share * 100, 2),
        unit="%",
        warn=f"{limit:g}" if limit is not None else "",
        minimum="0",
        maximum="100",
    )
    for label, metric, direction, count in (
        ("emails", "cp_audit_emails", "all", flow.total),
        ("emails_inbound", "cp_audit_emails", "inbound", flow.inbound),
        ("emails_outbound", "cp_audit_emails", "outbound", flow.outbound),
        ("emails_unencrypted", "cp_audit_emails_unencrypted", "", flow.unencrypted),
    ):
        labels = (("direction", direction),) if direction else ()
        yield Figure(label, metric, labels, float(count), minimum="0")


def figures(result: AuditResult) -> list[Figure]:
    """Certificates' days left, then the mail figures (none without the Control Panel)."""
    return [*_certificates(result), *_mail(result)]


def run_figures(result: AuditResult, verdict: Verdict) -> list[Figure]:
    """What only Prometheus is given: the status, the time, the thresholds."""
    return [
        Figure("", "cp_audit_status", (), float(verdict.status)),
        Figure("", "cp_audit_last_run_timestamp_seconds", (), result.generated_at.timestamp()),
        Figure("", "cp_audit_certificate_warn_days", (), result.thresholds.warn_days),
        Figure("", "cp_audit_certificate_crit_days", (), result.thresholds.crit_days),
    ]
