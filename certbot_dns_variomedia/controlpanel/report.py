"""The audit as the stable JSON document ``cp-audit --json`` prints (the table: ``report_text``).

The JSON layout is a contract (``"schema": "cp-audit/1"``, documented in docs/cp-audit.md):
fields are only ever added; a change of meaning gets a new schema name.
"""

from __future__ import annotations

import datetime
from typing import Any

from ..dnssec import Validation
from .certificate import Certificate
from .findings import Finding, Severity, Verdict
from .maildns import PolicyRecord
from .mailflow import MailFlow
from .mtasts import PolicyFetch, sts_id
from .results import AuditResult, CheckedProbe, Gateway, HttpsSite

SCHEMA = "cp-audit/1"


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _validation(v: Validation | None) -> dict[str, str] | None:
    return {"state": v.state, "zone": v.zone, "reason": v.reason} if v is not None else None


def _issuer(cert: Certificate) -> dict[str, str]:
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "sha256": cert.sha256,
        "spki_sha256": cert.spki_sha256,
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
        "chain": [_issuer(c) for c in p.chain] if p.chain is not None else None,
        "old_versions": [
            {"version": o.version, "outcome": o.outcome, "detail": o.detail} for o in p.old_versions
        ],
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
        "dnssec": (
            {
                "zone": _validation(g.dnssec.zone),
                "addresses": _validation(g.dnssec.addresses),
                "tlsa": _validation(g.dnssec.tlsa),
                "dane_effective": g.dnssec.dane_effective,
            }
            if g.dnssec is not None
            else None
        ),
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


def _record(policy: PolicyRecord) -> dict[str, Any]:
    return {
        "name": policy.name,
        "present": policy.present,
        "record": policy.record,
        "error": policy.error,
        "count": policy.count,
    }


def _sts_policy(fetched: PolicyFetch | None) -> dict[str, Any] | None:
    if fetched is None:
        return None
    policy = fetched.policy
    return {
        "url": fetched.url,
        "error": fetched.error,
        "version": policy.version if policy else None,
        "mode": policy.mode if policy else None,
        "mx": list(policy.mx) if policy else [],
        "max_age": policy.max_age if policy else None,
        "sha256": policy.sha256 if policy else None,
        "problems": list(policy.problems) if policy else [],
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
            "mta_sts": {
                **_record(result.mta_sts),
                "id": sts_id(result.mta_sts.record or "") if result.mta_sts.present else None,
                "policy": _sts_policy(result.mta_sts_policy),
            },
            "tls_rpt": _record(result.tls_rpt),
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
        "dnssec": _validation(result.dnssec),
    }
