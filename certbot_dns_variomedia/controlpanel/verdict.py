"""From facts to a verdict: which findings are critical, which are warnings, and the exit status.

The rules, in one place so the documentation (docs/cp-audit.md) can list them:

critical (2)
  a certificate expired or expiring within ``crit_days``; a name that does not match the host;
  a chain that does not lead to a trusted root; a gateway that does not offer STARTTLS, or
  whose SMTP dialogue or TLS handshake fails; a certificate that does not match the host's
  DANE-EE TLSA records.
warning (1)
  a certificate expiring within ``warn_days``; a host this machine cannot connect to (port 25
  is often blocked on client networks) or whose addresses cannot be found; TLS older than 1.2;
  TLSA records that SMTP cannot use; a failed MX lookup; Control Panel trouble that may pass
  (no answer, 5xx, rate limit); more unencrypted mail than ``warn_unencrypted_percent``.
info (0)
  everything else worth saying: DANE-EE matches (names, chain and dates then do not matter to
  DANE senders, so their problems are reported as info), MTA-STS and TLS-RPT absent, null MX.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .results import AuditResult, CheckedProbe, Gateway, HttpsSite, Thresholds


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


_OLD_TLS = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"}


def _certificate_findings(
    checked: CheckedProbe, subject: str, thresholds: Thresholds, now: datetime.datetime
) -> Iterator[Finding]:
    probe = checked.probe
    cert = probe.certificate
    assert cert is not None
    dane_ee = checked.dane is not None and checked.dane.ee_match

    def unless_dane(severity: Severity) -> Severity:
        # With a DANE-EE match, DANE senders ignore names, chain and dates: say so, do not alarm.
        return Severity.INFO if dane_ee else severity

    if dane_ee and checked.dane is not None and checked.dane.matched is not None:
        record = checked.dane.matched
        yield Finding(
            Severity.INFO,
            subject,
            f"matches TLSA {record.usage} {record.selector} {record.matching_type} (DANE-EE): "
            "names, chain and expiry do not matter to DANE senders",
        )
    days = cert.days_left(now)
    if days < 0:
        yield Finding(
            unless_dane(Severity.CRITICAL),
            subject,
            f"certificate expired {-days:.0f} days ago ({cert.not_after:%Y-%m-%d})",
        )
    elif days < thresholds.crit_days:
        yield Finding(
            unless_dane(Severity.CRITICAL),
            subject,
            f"certificate expires in {days:.1f} days ({cert.not_after:%Y-%m-%d}), "
            f"within --crit-days {thresholds.crit_days:g}",
        )
    elif days < thresholds.warn_days:
        yield Finding(
            unless_dane(Severity.WARNING),
            subject,
            f"certificate expires in {days:.0f} days ({cert.not_after:%Y-%m-%d}), "
            f"within --warn-days {thresholds.warn_days:g}",
        )
    if not probe.name_matches:
        names = ", ".join(cert.names()) or "no names"
        yield Finding(
            unless_dane(Severity.CRITICAL),
            subject,
            f"certificate is not valid for {probe.host} (it is for: {names})",
        )
    if not probe.trusted:
        yield Finding(
            unless_dane(Severity.CRITICAL),
            subject,
            f"certificate chain is not trusted: {probe.trust_error or 'unknown reason'}",
        )
    if probe.tls_version in _OLD_TLS:
        yield Finding(Severity.WARNING, subject, f"negotiated {probe.tls_version}; use TLS 1.2+")
    if checked.dane is not None:
        if checked.dane.status == "mismatch":
            yield Finding(
                Severity.CRITICAL,
                subject,
                "certificate matches none of the DANE-EE TLSA records: DANE senders will not "
                "deliver; publish the new TLSA record (3 1 1 "
                f"{cert.spki_sha256}) before changing keys",
            )
        elif checked.dane.status == "unchecked":
            yield Finding(
                Severity.INFO, subject, "DANE-TA (usage 2) records are not checked by cp-audit"
            )


def _probe_findings(
    checked: CheckedProbe, thresholds: Thresholds, now: datetime.datetime
) -> Iterator[Finding]:
    probe = checked.probe
    where = f"[{probe.address}]" if ":" in probe.address else probe.address
    subject = f"{probe.host} {where}:{probe.port}"
    if probe.certificate is not None:
        yield from _certificate_findings(checked, subject, thresholds, now)
        return
    if not probe.connected:
        hint = "; port 25 is often blocked on client networks" if probe.kind == "smtp" else ""
        yield Finding(Severity.WARNING, subject, f"{probe.error}{hint}")
    elif probe.kind == "smtp" and probe.starttls is False:
        yield Finding(Severity.CRITICAL, subject, "does not offer STARTTLS: mail arrives in clear")
    else:
        yield Finding(Severity.CRITICAL, subject, probe.error or "no certificate")


def _gateway_findings(
    gateway: Gateway, thresholds: Thresholds, now: datetime.datetime
) -> Iterator[Finding]:
    if gateway.address_error:
        yield Finding(Severity.WARNING, gateway.host, gateway.address_error)
    elif not gateway.addresses:
        yield Finding(Severity.WARNING, gateway.host, "MX host has no A or AAAA record")
    if gateway.tlsa.error:
        yield Finding(Severity.WARNING, gateway.tlsa.name, gateway.tlsa.error)
    elif gateway.tlsa.records and all(r.usage in (0, 1) for r in gateway.tlsa.records):
        yield Finding(
            Severity.WARNING,
            gateway.tlsa.name,
            "TLSA records with usage 0 or 1 cannot be used for SMTP (RFC 7672); use 3 1 1",
        )
    for checked in gateway.probes:
        yield from _probe_findings(checked, thresholds, now)


def _https_findings(
    site: HttpsSite, thresholds: Thresholds, now: datetime.datetime
) -> Iterator[Finding]:
    if site.skipped:
        yield Finding(Severity.INFO, site.host, site.skipped)
        return
    if site.address_error:
        yield Finding(Severity.WARNING, site.host, site.address_error)
    elif not site.addresses:
        yield Finding(Severity.WARNING, site.host, "has no A or AAAA record")
    for checked in site.probes:
        yield from _probe_findings(checked, thresholds, now)


def _all_findings(result: AuditResult) -> Iterable[Finding]:
    now = result.generated_at
    thresholds = result.thresholds
    if result.mx.error:
        yield Finding(Severity.WARNING, f"MX {result.domain}", result.mx.error)
    if result.mx.null_mx:
        yield Finding(Severity.INFO, f"MX {result.domain}", "null MX: the domain takes no mail")
    if result.mx.implicit:
        yield Finding(
            Severity.INFO,
            f"MX {result.domain}",
            "no MX record: mail goes to the domain's own address",
        )
    for gateway in result.gateways:
        yield from _gateway_findings(gateway, thresholds, now)
    for site in result.https:
        yield from _https_findings(site, thresholds, now)
    for policy, what in ((result.mta_sts, "MTA-STS"), (result.tls_rpt, "TLS-RPT")):
        if policy.error:
            yield Finding(Severity.WARNING, policy.name, policy.error)
        elif not policy.present:
            yield Finding(Severity.INFO, policy.name, f"no {what} record")
    if result.control_panel is not None and result.control_panel.error:
        yield Finding(Severity.WARNING, "Control Panel", result.control_panel.error)
    flow = result.mail_flow
    limit = thresholds.warn_unencrypted_percent
    if flow is not None and limit is not None and flow.unencrypted_share * 100 > limit:
        yield Finding(
            Severity.WARNING,
            "mail flow",
            f"{flow.unencrypted_share:.1%} of {flow.total} e-mails travelled without encryption "
            f"(more than --warn-unencrypted {limit:g}%)",
        )
    for note in result.notes:
        yield Finding(Severity.INFO, result.domain, note)


def judge(result: AuditResult) -> Verdict:
    """The verdict on ``result``: findings worst first (stable order within a severity)."""
    findings = sorted(_all_findings(result), key=lambda f: -int(f.severity))
    return Verdict(tuple(findings))
