"""The rules for one host: its certificate, each probe of it, a gateway's DNS, an HTTPS site.

``verdict`` applies them to every host of an audit; the list of rules is in its docstring.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from .findings import Finding, Severity
from .results import CheckedProbe, Gateway, HttpsSite, Thresholds

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
    for checked in gateway.probes:
        yield from _probe_findings(checked, thresholds, now)


def https_findings(
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
