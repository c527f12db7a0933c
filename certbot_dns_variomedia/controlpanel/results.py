"""What an audit collected, before anything is judged: plain data for the verdict and reports."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

from .dane import DaneResult
from .maildns import MXLookup, PolicyRecord, TLSALookup
from .mailflow import MailFlow
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
class Gateway:
    """One MX host: its addresses, TLSA records, and one probe per address."""

    host: str
    preference: int
    addresses: tuple[str, ...]
    address_error: str | None
    tlsa: TLSALookup
    probes: tuple[CheckedProbe, ...]


HttpsRole = Literal["control_panel", "whitelabel"]


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
