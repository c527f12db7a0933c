"""What an audit collected, before anything is judged: plain data for the verdict and reports."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

from ..dnssec import Validation
from .dane import DaneResult
from .maildns import MXLookup, PolicyRecord, TLSALookup
from .mailflow import MailFlow
from .mtasts import PolicyFetch, PolicySeen
from .tls import TLSProbe


@dataclass(frozen=True)
class Thresholds:
    """The limits the verdict applies (``cp-audit`` options of the same names)."""

    warn_days: float = 21
    crit_days: float = 7
    warn_unencrypted_percent: float | None = None


@dataclass(frozen=True)
class CheckedProbe:
    """A TLS probe with its DANE outcome (``None`` for HTTPS, where DANE is not looked at)."""

    probe: TLSProbe
    dane: DaneResult | None = None


@dataclass(frozen=True)
class HostDnssec:
    """The DNSSEC state of an MX host: its zone, its address records, its TLSA records
    (``None`` when it has none)."""

    zone: Validation
    addresses: Validation
    tlsa: Validation | None = None

    @property
    def dane_effective(self) -> bool:
        """Whether senders use the TLSA records: they and the addresses validate (RFC 7672)."""
        return self.tlsa is not None and self.tlsa.secure and self.addresses.secure

    @property
    def bogus(self) -> Validation | None:
        """The first of the host's answers that does not validate, if any."""
        return next(
            (v for v in (self.addresses, self.tlsa) if v is not None and v.state == "bogus"),
            None,
        )


@dataclass(frozen=True)
class Gateway:
    """One MX host: its addresses, TLSA records, and one probe per address."""

    host: str
    preference: int
    addresses: tuple[str, ...]
    address_error: str | None
    tlsa: TLSALookup
    probes: tuple[CheckedProbe, ...]
    dnssec: HostDnssec | None = None


HttpsRole = Literal["control_panel", "whitelabel", "mta_sts"]


@dataclass(frozen=True)
class HttpsSite:
    """An HTTPS host of the Control Panel; ``skipped`` says why it was not probed."""

    role: HttpsRole
    host: str
    port: int
    addresses: tuple[str, ...] = ()
    address_error: str | None = None
    skipped: str | None = None
    probes: tuple[CheckedProbe, ...] = ()


@dataclass(frozen=True)
class ControlPanelFacts:
    """What the Control Panel said about the domain; ``error`` if part of it failed."""

    url: str
    object_id: int | None = None
    version: str | None = None
    whitelabel_domain: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class AuditResult:
    """Everything one run found."""

    domain: str
    generated_at: datetime.datetime
    days: float
    thresholds: Thresholds
    mx: MXLookup
    gateways: tuple[Gateway, ...]
    mta_sts: PolicyRecord
    tls_rpt: PolicyRecord
    https: tuple[HttpsSite, ...] = ()
    control_panel: ControlPanelFacts | None = None
    mail_flow: MailFlow | None = None
    notes: tuple[str, ...] = field(default=())
    dnssec: Validation | None = None
    """The domain's MX records: validated, and the state of its zone."""
    mta_sts_policy: PolicyFetch | None = None
    """The MTA-STS policy, fetched when the TXT record announces one."""
    previous_mta_sts: PolicySeen | None = None
    """What an earlier report saw of the policy (``--previous-report``)."""
