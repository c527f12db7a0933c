"""From facts to a verdict: which findings are critical, which are warnings, and the exit status.

The rules, in one place so the documentation (docs/cp-audit.md) can list them:

critical (2)
  a certificate expired or expiring within ``crit_days``; a name that does not match the host;
  a chain that does not lead to a trusted root; a gateway that does not offer STARTTLS, or
  whose SMTP dialogue or TLS handshake fails; a certificate that matches none of its host's
  TLSA records where DANE is in effect; DNSSEC answers that are bogus (MX, addresses, TLSA);
  an MX host that an ``enforce`` MTA-STS policy does not cover.
warning (1)
  a certificate expiring within ``warn_days``; a host this machine cannot connect to (port 25
  is often blocked on client networks) or whose addresses cannot be found; TLS older than 1.2
  negotiated, or TLS 1.0/1.1 still accepted; TLSA records that SMTP cannot use, or that are
  not in effect because they or the host's addresses are not DNSSEC-validated; a failed MX
  lookup; Control Panel trouble that may pass (no answer, 5xx, rate limit); more unencrypted
  mail than ``warn_unencrypted_percent``; an MTA-STS record or policy senders cannot use, an
  MX host a ``testing`` policy does not cover, ``max_age`` beyond a year, a policy changed
  under the same id; certificate problems of the MTA-STS policy host.
info (0)
  everything else worth saying: DANE matches where DANE is in effect (DANE-EE: names, chain and
  dates then do not matter to DANE senders; DANE-TA: the public roots do not), matches and
  mismatches where it is not, old TLS versions not tested, MTA-STS and TLS-RPT absent, null MX.
The rules for one host are in ``host_rules`` and ``dane_rules``, MTA-STS's in ``policy_rules``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .findings import Finding, Severity, Verdict
from .host_rules import gateway_findings, https_findings
from .policy_rules import mta_sts_findings
from .results import AuditResult

__all__ = ["Finding", "Severity", "Verdict", "judge"]


def _all_findings(result: AuditResult) -> Iterable[Finding]:
    now = result.generated_at
    thresholds = result.thresholds
    if result.mx.error:
        yield Finding(Severity.WARNING, f"MX {result.domain}", result.mx.error)
    if result.mx.null_mx:
        yield Finding(Severity.INFO, f"MX {result.domain}", "null MX: the domain takes no mail")
    if result.dnssec is not None and result.dnssec.state == "bogus":
        yield Finding(
            Severity.CRITICAL,
            f"DNSSEC {result.domain}",
            f"the MX records do not validate (bogus): {result.dnssec.reason}; validating "
            "senders cannot deliver to this domain",
        )
    if result.mx.implicit:
        yield Finding(
            Severity.INFO,
            f"MX {result.domain}",
            "no MX record: mail goes to the domain's own address",
        )
    for gateway in result.gateways:
        yield from gateway_findings(gateway, thresholds, now)
    for site in result.https:
        yield from https_findings(site, thresholds, now)
    for policy, what in ((result.mta_sts, "MTA-STS"), (result.tls_rpt, "TLS-RPT")):
        if policy.error:
            yield Finding(Severity.WARNING, policy.name, policy.error)
        elif not policy.present:
            yield Finding(Severity.INFO, policy.name, f"no {what} record")
    yield from mta_sts_findings(result)
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
