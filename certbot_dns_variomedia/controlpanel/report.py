"""The audit as a readable table, or as the stable JSON document ``cp-audit --json`` prints.

The JSON layout is a contract (``"schema": "cp-audit/1"``, documented in docs/cp-audit.md):
fields are only ever added; a change of meaning gets a new schema name.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from .certificate import Certificate
from .mailflow import MailFlow
from .results import AuditResult, CheckedProbe, Gateway, HttpsSite
from .verdict import Finding, Severity, Verdict

SCHEMA = "cp-audit/1"


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- JSON --------------------------------------------------------------------------------------


def _certificate(cert: Certificate, now: datetime.datetime) -> dict[str, Any]:
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "names": list(cert.san_dns),
        "ip_addresses": list(cert.san_ip),
        "not_before": _time(cert.not_before),
        "not_after": _time(cert.not_after),
        "days_left": round(cert.days_left(now), 1),
        "sha256": cert.sha256,
        "spki_sha256": cert.spki_sha256,
        "serial": cert.serial,
        "self_signed": cert.self_signed,
    }


def _probe(checked: CheckedProbe, now: datetime.datetime) -> dict[str, Any]:
    p = checked.probe
    dane = checked.dane
    return {
        "address": p.address,
        "port": p.port,
        "connected": p.connected,
        "starttls": p.starttls,
        "tls_version": p.tls_version,
        "cipher": p.cipher,
        "error": p.error,
        "certificate": _certificate(p.certificate, now) if p.certificate else None,
        "name_matches": p.name_matches,
        "trusted": p.trusted,
        "trust_error": p.trust_error,
        "dane": (
            {"status": dane.status, "matched": str(dane.matched) if dane.matched else None}
            if dane is not None
            else None
        ),
    }


def _gateway(g: Gateway, now: datetime.datetime) -> dict[str, Any]:
    return {
        "host": g.host,
        "preference": g.preference,
        "addresses": list(g.addresses),
        "address_error": g.address_error,
        "tlsa": {
            "name": g.tlsa.name,
            "records": [str(r) for r in g.tlsa.records],
            "error": g.tlsa.error,
        },
        "probes": [_probe(p, now) for p in g.probes],
    }


def _site(s: HttpsSite, now: datetime.datetime) -> dict[str, Any]:
    return {
        "role": s.role,
        "host": s.host,
        "port": s.port,
        "addresses": list(s.addresses),
        "address_error": s.address_error,
        "skipped": s.skipped,
        "probes": [_probe(p, now) for p in s.probes],
    }


def _flow(f: MailFlow) -> dict[str, Any]:
    return {
        "from": _time(f.date_from),
        "to": _time(f.date_to),
        "total": f.total,
        "inbound": f.inbound,
        "outbound": f.outbound,
        "unencrypted": f.unencrypted,
        "unencrypted_share": round(f.unencrypted_share, 4),
        "unknown_encryption": f.unknown_encryption,
        "by_encryption": {method.value: count for method, count in f.by_encryption},
        "partners_without_tls": [{"domain": d, "count": c} for d, c in f.partners_without_tls],
        "classification": [
            {"type": s.type, "name": s.name, "value": s.value} for s in f.classification
        ],
    }


def _finding(f: Finding) -> dict[str, str]:
    return {"severity": f.severity.label, "subject": f.subject, "message": f.message}


def to_json(result: AuditResult, verdict: Verdict) -> dict[str, Any]:
    """The ``cp-audit/1`` document."""
    now = result.generated_at
    cp = result.control_panel
    return {
        "schema": SCHEMA,
        "domain": result.domain,
        "generated_at": _time(now),
        "days": result.days,
        "thresholds": {
            "warn_days": result.thresholds.warn_days,
            "crit_days": result.thresholds.crit_days,
            "warn_unencrypted_percent": result.thresholds.warn_unencrypted_percent,
        },
        "verdict": {
            "status": verdict.status,
            "label": verdict.label,
            "reasons": [_finding(f) for f in verdict.reasons],
            "notes": [_finding(f) for f in verdict.findings if f.severity == Severity.INFO],
        },
        "mx": {
            "hosts": [{"host": h.host, "preference": h.preference} for h in result.mx.hosts],
            "implicit": result.mx.implicit,
            "null_mx": result.mx.null_mx,
            "error": result.mx.error,
        },
        "gateways": [_gateway(g, now) for g in result.gateways],
        "policies": {
            key: {
                "name": policy.name,
                "present": policy.present,
                "record": policy.record,
                "error": policy.error,
            }
            for key, policy in (("mta_sts", result.mta_sts), ("tls_rpt", result.tls_rpt))
        },
        "https": [_site(s, now) for s in result.https],
        "control_panel": (
            {
                "url": cp.url,
                "object_id": cp.object_id,
                "version": cp.version,
                "whitelabel_domain": cp.whitelabel_domain,
                "error": cp.error,
            }
            if cp is not None
            else None
        ),
        "mail_flow": _flow(result.mail_flow) if result.mail_flow else None,
    }


# -- text --------------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = []
    for row in (header, *rows):
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=True)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _yes_no(value: bool | None, yes: str = "ok", no: str = "NO") -> str:
    return "-" if value is None else (yes if value else no)


def _probe_row(host: str, checked: CheckedProbe, now: datetime.datetime) -> list[str]:
    p = checked.probe
    address = f"[{p.address}]:{p.port}" if ":" in p.address else f"{p.address}:{p.port}"
    cert = p.certificate
    if cert is None:
        return [host, address, p.tls_version or "-", "-", "-", "-", "-", p.error or "-"]
    dane = checked.dane.status if checked.dane else "-"
    expires = f"{cert.not_after:%Y-%m-%d} ({cert.days_left(now):.0f}d)"
    return [
        host,
        address,
        p.tls_version or "-",
        expires,
        _yes_no(p.name_matches),
        _yes_no(p.trusted),
        dane,
        f"{cert.common_name or cert.subject} / {cert.issuer}",
    ]


_PROBE_HEADER = ["HOST", "ADDRESS", "TLS", "EXPIRES", "NAME", "CHAIN", "DANE", "SUBJECT / ISSUER"]


def _fingerprints(probes: Sequence[CheckedProbe]) -> list[str]:
    seen: dict[str, str] = {}
    for checked in probes:
        cert = checked.probe.certificate
        if cert is not None:
            seen.setdefault(cert.sha256, cert.common_name or cert.subject)
    return [f"  sha256 {digest}  {name}" for digest, name in seen.items()]


def _flow_lines(flow: MailFlow, version: str | None) -> list[str]:
    shown_version = f", Control Panel {version}" if version else ""
    return [
        f"Mail flow {flow.date_from:%Y-%m-%d %H:%M} .. {flow.date_to:%Y-%m-%d %H:%M} UTC"
        f"{shown_version}",
        f"  e-mails: {flow.total} (in {flow.inbound}, out {flow.outbound})",
        f"  without encryption: {flow.unencrypted} ({flow.unencrypted_share:.1%})"
        + (f", method unknown: {flow.unknown_encryption}" if flow.unknown_encryption else ""),
        "  methods: " + (", ".join(f"{m.value} {c}" for m, c in flow.by_encryption if c) or "none"),
        "  partners most often without TLS: "
        + (", ".join(f"{d} {c}" for d, c in flow.partners_without_tls) or "none"),
        "  classification: "
        + (", ".join(f"{s.name or s.type} {s.value}" for s in flow.classification) or "none"),
    ]


def render_text(result: AuditResult, verdict: Verdict) -> str:
    """The human report: gateways, HTTPS hosts, policies, mail flow, then the verdict."""
    now = result.generated_at
    out = [
        f"cp-audit {result.domain}: {verdict.label.upper()} (exit {verdict.status}), "
        f"{now:%Y-%m-%d %H:%M} UTC",
        "",
        "Gateway certificates (SMTP STARTTLS)",
    ]
    rows = [_probe_row(g.host, p, now) for g in result.gateways for p in g.probes]
    out += _table(_PROBE_HEADER, rows) if rows else ["  (no gateway could be probed)"]
    out += _fingerprints([p for g in result.gateways for p in g.probes])
    for g in result.gateways:
        if g.tlsa.records:
            out.append(f"  TLSA {g.tlsa.name}: " + "; ".join(str(r) for r in g.tlsa.records))
    if result.https:
        out += ["", "HTTPS certificates"]
        rows = [
            _probe_row(f"{s.host} ({s.role.replace('_', ' ')})", p, now)
            for s in result.https
            for p in s.probes
        ]
        for site in result.https:
            if not site.probes:
                why = site.skipped or site.address_error or "no address"
                rows.append([f"{site.host} ({site.role.replace('_', ' ')})", *["-"] * 6, why])
        out += _table(_PROBE_HEADER, rows)
        out += _fingerprints([p for s in result.https for p in s.probes])
    out += ["", "Mail policies"]
    for what, policy in (("MTA-STS", result.mta_sts), ("TLS-RPT", result.tls_rpt)):
        state = policy.error or (policy.record if policy.present else "absent")
        out.append(f"  {what:8} {policy.name}: {state}")
    if result.mail_flow is not None:
        version = result.control_panel.version if result.control_panel else None
        out += ["", *_flow_lines(result.mail_flow, version)]
    elif result.control_panel is None:
        out += ["", "Mail flow: not asked (no Control Panel credentials)"]
    else:
        out += ["", "Mail flow: not available (see the verdict)"]
    out += ["", f"Verdict: {verdict.label.upper()} (exit {verdict.status})"]
    if not verdict.findings:
        out.append("  nothing to report")
    for f in verdict.findings:
        out.append(f"  {f.severity.label.upper():8}  {f.subject}: {f.message}")
    return "\n".join(out) + "\n"
