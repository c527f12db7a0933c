"""The audit as a table for people: gateways, HTTPS hosts, policies, mail flow, the verdict."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from ..dnssec import Validation
from .findings import Verdict
from .mailflow import MailFlow
from .mtasts import PolicyFetch
from .results import AuditResult, CheckedProbe


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


_ROLES = {"control_panel": "control panel", "whitelabel": "whitelabel", "mta_sts": "MTA-STS policy"}


def _versions(probes: Sequence[CheckedProbe]) -> list[str]:
    """The cipher negotiated, and what became of the old versions, per address."""
    lines = []
    for checked in probes:
        p = checked.probe
        if p.certificate is None:
            continue
        old = ", ".join(f"{o.version} {o.outcome}" for o in p.old_versions)
        where = f"[{p.address}]:{p.port}" if ":" in p.address else f"{p.address}:{p.port}"
        lines.append(
            f"  {p.host} {where}: {p.tls_version or '-'} {p.cipher or '-'}"
            + (f"; {old}" if old else "")
        )
    return lines


def _state(v: Validation) -> str:
    return f"{v.state} ({v.reason})"


def _zone(host: str, v: Validation) -> str:
    known = v.zone and v.state != "indeterminate"
    return f"  {host}{f' (zone {v.zone})' if known else ''}: {_state(v)}"


def _dnssec_lines(result: AuditResult) -> list[str]:
    lines = ["", "DNSSEC"]
    if result.dnssec is not None:
        lines.append(_zone(f"{result.domain} MX", result.dnssec))
    for g in result.gateways:
        if g.dnssec is None:
            continue
        lines.append(_zone(g.host, g.dnssec.zone))
        lines.append(f"    addresses: {_state(g.dnssec.addresses)}")
        if g.dnssec.tlsa is not None:
            effect = "in effect" if g.dnssec.dane_effective else "not effective"
            lines.append(f"    TLSA: {_state(g.dnssec.tlsa)}; DANE {effect}")
    return lines if len(lines) > 2 else []


def _sts_line(fetched: PolicyFetch) -> str:
    policy = fetched.policy
    if policy is None:
        return f"{fetched.url}: {fetched.error}"
    if not policy.valid:
        return f"{fetched.url}: not valid ({'; '.join(policy.problems)})"
    return (
        f"{fetched.url}: mode {policy.mode}, max_age {policy.max_age}, "
        f"mx {', '.join(policy.mx) or '-'}"
    )


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
    out += _versions([p for g in result.gateways for p in g.probes])
    for g in result.gateways:
        if g.tlsa.records:
            out.append(f"  TLSA {g.tlsa.name}: " + "; ".join(str(r) for r in g.tlsa.records))
    out += _dnssec_lines(result)
    if result.https:
        out += ["", "HTTPS certificates"]
        rows = [
            _probe_row(f"{s.host} ({_ROLES[s.role]})", p, now)
            for s in result.https
            for p in s.probes
        ]
        for site in result.https:
            if not site.probes:
                why = site.skipped or site.address_error or "no address"
                rows.append([f"{site.host} ({_ROLES[site.role]})", *["-"] * 6, why])
        out += _table(_PROBE_HEADER, rows)
        out += _fingerprints([p for s in result.https for p in s.probes])
    out += ["", "Mail policies"]
    for what, policy in (("MTA-STS", result.mta_sts), ("TLS-RPT", result.tls_rpt)):
        state = policy.error or (policy.record if policy.present else "absent")
        out.append(f"  {what:8} {policy.name}: {state}")
        if what == "MTA-STS" and result.mta_sts_policy is not None:
            out.append(f"           {_sts_line(result.mta_sts_policy)}")
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
