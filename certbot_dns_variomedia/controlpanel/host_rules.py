"""The rules for one host: its certificate, each probe of it, a gateway's DNS, an HTTPS site.

``verdict`` applies them to every host of an audit; the list of rules is in its docstring.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator

from .dane_rules import dane_findings, dnssec_findings
from .findings import Finding, Severity
from .results import CheckedProbe, Gateway, HttpsSite, Thresholds

_OLD_TLS = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"}


def _certificate_findings(
    checked: CheckedProbe,
    subject: str,
    thresholds: Thresholds,
    now: datetime.datetime,
    dane_effective: bool,
) -> Iterator[Finding]:
    probe = checked.probe
    cert = probe.certificate
    assert cert is not None
    dane = checked.dane if dane_effective else None
    dane_ee = dane is not None and dane.ee_match
    dane_ta = dane is not None and dane.ta_match

    def unless_dane(severity: Severity, *, anchored: bool = False) -> Severity:
        # DANE senders ignore names, chain and dates after a DANE-EE match, and the public
        # roots after a DANE-TA match: say so, do not alarm.
        return Severity.INFO if dane_ee or (anchored and dane_ta) else severity

    yield from dane_findings(checked, subject, dane_effective)
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
            unless_dane(Severity.CRITICAL, anchored=True),
            subject,
            f"certificate chain is not trusted: {probe.trust_error or 'unknown reason'}",
        )
    if probe.tls_version in _OLD_TLS:
        yield Finding(Severity.WARNING, subject, f"negotiated {probe.tls_version}; use TLS 1.2+")
    for old in probe.old_versions:
        if old.outcome == "accepted":
            yield Finding(
                Severity.WARNING,
                subject,
                f"still accepts {old.version} (cipher {old.detail}): a sender that offers no "
                "better gets it; turn off TLS 1.0 and 1.1",
            )
        elif old.outcome == "not tested":
            yield Finding(Severity.INFO, subject, f"{old.version} not tested: {old.detail}")


def _probe_findings(
    checked: CheckedProbe,
    thresholds: Thresholds,
    now: datetime.datetime,
    dane_effective: bool = False,
) -> Iterator[Finding]:
    probe = checked.probe
    where = f"[{probe.address}]" if ":" in probe.address else probe.address
    subject = f"{probe.host} {where}:{probe.port}"
    if probe.certificate is not None:
        yield from _certificate_findings(checked, subject, thresholds, now, dane_effective)
        return
    if not probe.connected:
        hint = "; port 25 is often blocked on client networks" if probe.kind == "smtp" else ""
        yield Finding(Severity.WARNING, subject, f"{probe.error}{hint}")
    elif probe.kind == "smtp" and probe.starttls is False:
        yield Finding(Severity.CRITICAL, subject, "does not offer STARTTLS: mail arrives in clear")
    else:
        yield Finding(Severity.CRITICAL, subject, probe.error or "no certificate")


def gateway_findings(
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
    yield from dnssec_findings(gateway)
    effective = gateway.dnssec is not None and gateway.dnssec.dane_effective
    for checked in gateway.probes:
        yield from _probe_findings(checked, thresholds, now, effective)


def https_findings(
    site: HttpsSite, thresholds: Thresholds, now: datetime.datetime
) -> Iterator[Finding]:
    """The rules for an HTTPS host. For the MTA-STS policy host, at most warnings: senders
    that cannot fetch the policy deliver without it (policy_rules says so too)."""
    cap = Severity.WARNING if site.role == "mta_sts" else Severity.CRITICAL
    for finding in _site_findings(site, thresholds, now):
        yield dataclasses.replace(finding, severity=min(finding.severity, cap))


def _site_findings(
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
