"""The mail-gateway certificate audit: collect the facts of one domain (the function behind
``cp-audit``).

Order matters for the user's time: the Control Panel comes first, so refused credentials or an
unknown domain end the run at once with a message that says what to fix, before any gateway is
probed. Trouble that may pass (no answer, 5xx) is recorded and the rest still runs.

::

    result = run_audit(AuditSettings(domain="example.de"), dns=Resolver(), credentials=creds)
    verdict = judge(result)          # verdict.status is the exit status
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import logging
import urllib.parse
from dataclasses import dataclass, field

from ..dnssec import TrustAnchors, Validation, Validator
from ..errors import ConfigurationError
from .client import ControlPanelClient
from .credentials import ControlPanelCredentials
from .dane import check_tlsa
from .errors import ControlPanelError
from .maildns import (
    DNSLookup,
    MXLookup,
    lookup_addresses,
    lookup_mta_sts,
    lookup_mx,
    lookup_tls_rpt,
    lookup_tlsa,
)
from .mailflow import MailFlow, summarize
from .mtasts import PolicySeen, fetch_policy
from .old_versions import probe_old_versions
from .results import (
    AuditResult,
    CheckedProbe,
    ControlPanelFacts,
    Gateway,
    HostDnssec,
    HttpsRole,
    HttpsSite,
    Thresholds,
)
from .tls import probe_https, probe_smtp
from .transport import DEFAULT_RATE

logger = logging.getLogger(__name__)

UTC = datetime.timezone.utc


@dataclass(frozen=True)
class AuditSettings:
    """What to audit and how.

    ``smtp_port`` and ``https_port`` are where gateways and the whitelabel host are probed
    (25 and 443; tests move them to loopback ports; TLSA is always looked up for port 25).
    ``ca_bundle`` replaces the system's roots for the chain checks and the Control Panel
    connection (``None``: system roots). ``timeout`` bounds each connection and DNS step.
    ``cp_rate`` is how many requests per second the Control Panel is sent at most.
    ``trust_anchors`` are where DNSSEC validation starts (``None``: the IANA root keys).
    ``previous_mta_sts`` is what an earlier report saw of the MTA-STS policy. The MTA-STS
    policy host is probed and fetched on ``https_port`` too.
    """

    domain: str
    days: float = 7.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    smtp_port: int = 25
    https_port: int = 443
    ca_bundle: str | None = None
    timeout: float = 10.0
    ehlo_name: str | None = None
    page_size: int = 200
    top_partners: int = 10
    cp_rate: float = DEFAULT_RATE
    trust_anchors: TrustAnchors | None = None
    previous_mta_sts: PolicySeen | None = None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_WORST_FIRST = ("bogus", "indeterminate", "insecure", "secure")


def _host_dnssec(validator: Validator, host: str, tlsa_name: str, tlsa: bool) -> HostDnssec:
    """What a validating sender learns about ``host``: both address types must validate."""
    found = [validator.validate(host, kind) for kind in ("A", "AAAA")]
    addresses: Validation = min(found, key=lambda v: _WORST_FIRST.index(v.state))
    return HostDnssec(
        zone=validator.zone_of(host),
        addresses=addresses,
        tlsa=validator.validate(tlsa_name, "TLSA") if tlsa else None,
    )


def _gateways(
    settings: AuditSettings, dns: DNSLookup, mx: MXLookup, validator: Validator
) -> tuple[Gateway, ...]:
    gateways = []
    for mx_host in mx.hosts:
        found = lookup_addresses(dns, mx_host.host)
        tlsa = lookup_tlsa(dns, mx_host.host)
        probes = []
        for address in found.addresses:
            logger.info("Probing %s (%s) port %d", mx_host.host, address, settings.smtp_port)
            probe = probe_smtp(
                mx_host.host,
                address,
                port=settings.smtp_port,
                ca_bundle=settings.ca_bundle,
                timeout=settings.timeout,
                ehlo_name=settings.ehlo_name,
            )
            if probe.certificate is not None:
                probe = dataclasses.replace(
                    probe,
                    old_versions=probe_old_versions(
                        "smtp",
                        mx_host.host,
                        address,
                        settings.smtp_port,
                        timeout=settings.timeout,
                        ehlo_name=settings.ehlo_name,
                    ),
                )
            dane = (
                check_tlsa(tlsa.records, probe.certificate, probe.chain)
                if probe.certificate
                else None
            )
            probes.append(CheckedProbe(probe, dane))
        gateways.append(
            Gateway(
                host=mx_host.host,
                preference=mx_host.preference,
                addresses=found.addresses,
                address_error=found.error,
                tlsa=tlsa,
                probes=tuple(probes),
                dnssec=_host_dnssec(validator, mx_host.host, tlsa.name, bool(tlsa.records)),
            )
        )
    return tuple(gateways)


def _https_site(
    role: HttpsRole, host: str, port: int, settings: AuditSettings, dns: DNSLookup
) -> HttpsSite:
    if _is_address(host):
        addresses: tuple[str, ...] = (host.strip("[]"),)
        error = None
    else:
        found = lookup_addresses(dns, host)
        addresses, error = found.addresses, found.error
    probes = tuple(
        CheckedProbe(
            probe_https(host, a, port=port, ca_bundle=settings.ca_bundle, timeout=settings.timeout)
        )
        for a in addresses
    )
    return HttpsSite(role, host, port, addresses, error, None, probes)


def _control_panel_site(
    credentials: ControlPanelCredentials, settings: AuditSettings, dns: DNSLookup
) -> HttpsSite:
    parts = urllib.parse.urlsplit(credentials.base_url)
    host = parts.hostname or ""
    port = parts.port or 443
    if parts.scheme != "https":
        return HttpsSite(
            "control_panel",
            host,
            port,
            skipped="the Control Panel URL is plain http (loopback simulator): no certificate",
        )
    return _https_site("control_panel", host, port, settings, dns)


@dataclass
class _Panel:
    facts: ControlPanelFacts
    flow: MailFlow | None = None


def _ask_control_panel(
    settings: AuditSettings, credentials: ControlPanelCredentials, now: datetime.datetime
) -> _Panel:
    """Log in, find the domain, fetch version, customisation and mail flow; always log out.

    Raises :class:`ControlPanelError` when the login or the domain lookup is refused in a way
    that needs a fix; anything later becomes ``facts.error``.
    """
    client = ControlPanelClient.from_credentials(
        credentials,
        verify=settings.ca_bundle or True,
        timeout=(settings.timeout, max(settings.timeout, 60.0)),
        rate=settings.cp_rate,
    )
    problems: list[str] = []
    with client:
        try:
            client.login(credentials.username, credentials.password)
            object_id = client.object_id_for_domain(settings.domain)
        except ControlPanelError as error:
            if error.needs_fix:
                raise
            return _Panel(ControlPanelFacts(url=credentials.base_url, error=str(error)))
        version = whitelabel = None
        try:
            version = client.version()
        except ControlPanelError as error:
            problems.append(str(error))
        try:
            whitelabel = client.whitelabeling(object_id).domain or None
        except ControlPanelError as error:
            problems.append(str(error))
        flow = None
        start = now - datetime.timedelta(days=settings.days)
        try:
            statistics = client.email_statistics_by_time(object_id, start, now)
            emails = client.search_emails(object_id, start, now, page_size=settings.page_size)
            flow = summarize(emails, statistics, start, now, top=settings.top_partners)
        except ControlPanelError as error:
            problems.append(str(error))
    facts = ControlPanelFacts(
        url=credentials.base_url,
        object_id=object_id,
        version=version,
        whitelabel_domain=whitelabel,
        error=" / ".join(problems) or None,
    )
    return _Panel(facts, flow)


def run_audit(
    settings: AuditSettings,
    *,
    dns: DNSLookup,
    credentials: ControlPanelCredentials | None,
    now: datetime.datetime | None = None,
) -> AuditResult:
    """Collect everything about ``settings.domain``; judge it with ``verdict.judge``.

    Without ``credentials`` the Control Panel part (mail flow, its HTTPS hosts) is left out.
    """
    moment = (now or datetime.datetime.now(UTC)).replace(microsecond=0)
    domain = settings.domain.strip().rstrip(".").lower()
    settings = dataclasses.replace(settings, domain=domain)

    mx = lookup_mx(dns, domain)
    if mx.nxdomain:
        raise ConfigurationError(
            f"The domain {domain} does not exist in DNS (its MX lookup answered NXDOMAIN); "
            "check --domain."
        )
    validator = Validator(dns, settings.trust_anchors, now=moment.timestamp)
    panel: _Panel | None = None
    https: list[HttpsSite] = []
    if credentials is not None:
        panel = _ask_control_panel(settings, credentials, moment)
        https.append(_control_panel_site(credentials, settings, dns))
        whitelabel = panel.facts.whitelabel_domain
        if whitelabel and whitelabel != credentials.host.lower():
            https.append(_https_site("whitelabel", whitelabel, settings.https_port, settings, dns))

    mta_sts = lookup_mta_sts(dns, domain)
    policy = None
    if mta_sts.present:
        site = _https_site("mta_sts", f"mta-sts.{domain}", settings.https_port, settings, dns)
        https.append(site)
        policy = fetch_policy(
            domain,
            site.addresses,
            port=settings.https_port,
            ca_bundle=settings.ca_bundle,
            timeout=settings.timeout,
        )
    return AuditResult(
        domain=domain,
        generated_at=moment,
        days=settings.days,
        thresholds=settings.thresholds,
        mx=mx,
        gateways=_gateways(settings, dns, mx, validator),
        mta_sts=mta_sts,
        tls_rpt=lookup_tls_rpt(dns, domain),
        https=tuple(https),
        control_panel=panel.facts if panel else None,
        mail_flow=panel.flow if panel else None,
        dnssec=validator.validate(domain, "MX"),
        mta_sts_policy=policy,
        previous_mta_sts=settings.previous_mta_sts,
    )
