"""The DNS facts of a mail domain: MX hosts and their addresses, TLSA, MTA-STS and TLS-RPT.

All lookups go through a :class:`DNSLookup`, which the project's ``resolver.Resolver`` is; tests
point it at a DNS server on loopback. Lookup failures never raise from here: they are carried
as ``error`` strings, so one broken name does not hide what the others show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import dns.message
import dns.name
import dns.rcode as dns_rcode
import dns.rdatatype

from ..errors import VariomediaError
from .dane import TLSARecord


class DNSLookup(Protocol):
    """What the audit needs from a resolver (``resolver.Resolver`` provides it)."""

    def query(self, name: str, rdtype: str) -> Sequence[Any]:
        """The rdatas at ``name``; ``[]`` for NXDOMAIN/NODATA; raises on failure."""

    def addresses(self, host: str) -> Sequence[str]:
        """A then AAAA addresses of ``host``; ``[]`` if none; raises on failure."""

    def message(
        self,
        name: str | dns.name.Name,
        rdtype: str | dns.rdatatype.RdataType,
        *,
        dnssec: bool = False,
    ) -> dns.message.Message:
        """The whole answer (rcode included; DNSSEC records with ``dnssec``); raises on
        failure."""


def _name(value: object) -> str:
    return str(value).rstrip(".").lower()


@dataclass(frozen=True)
class MXHost:
    """One mail exchanger of the domain."""

    host: str
    preference: int


@dataclass(frozen=True)
class MXLookup:
    """The domain's MX hosts, lowest preference first.

    ``implicit``: there is no MX record, so mail goes to the domain's own address (RFC 5321 5.1)
    and ``hosts`` holds the domain itself. ``null_mx``: the domain says it takes no mail
    (``MX 0 .``, RFC 7505). ``nxdomain``: the domain does not exist in DNS at all. ``error``:
    the lookup failed.
    """

    hosts: tuple[MXHost, ...] = ()
    implicit: bool = False
    null_mx: bool = False
    nxdomain: bool = False
    error: str | None = None


def _nxdomain(dns: DNSLookup, name: str) -> bool:
    """Whether ``name`` does not exist at all (an empty answer may also be NODATA)."""
    try:
        return dns.message(name, "MX").rcode() == dns_rcode.NXDOMAIN
    except VariomediaError:
        return False


def lookup_mx(dns: DNSLookup, domain: str) -> MXLookup:
    try:
        records = dns.query(domain, "MX")
    except VariomediaError as error:
        return MXLookup(error=str(error))
    hosts = sorted(
        {
            MXHost(host=_name(getattr(r, "exchange", "")), preference=int(r.preference))
            for r in records
        },
        key=lambda h: (h.preference, h.host),
    )
    if len(hosts) == 1 and hosts[0].host in ("", "."):
        return MXLookup(null_mx=True)
    hosts = [h for h in hosts if h.host not in ("", ".")]
    if not hosts and _nxdomain(dns, domain):
        return MXLookup(nxdomain=True)
    if not hosts:
        return MXLookup(hosts=(MXHost(host=_name(domain), preference=0),), implicit=True)
    return MXLookup(hosts=tuple(hosts))


@dataclass(frozen=True)
class Addresses:
    """The addresses of a host, or why they could not be found."""

    addresses: tuple[str, ...] = ()
    error: str | None = None


def lookup_addresses(dns: DNSLookup, host: str) -> Addresses:
    try:
        return Addresses(tuple(dns.addresses(host)))
    except VariomediaError as error:
        return Addresses(error=str(error))


@dataclass(frozen=True)
class TLSALookup:
    """The TLSA records at ``_25._tcp.<host>`` (``name``), or why they could not be read."""

    name: str
    records: tuple[TLSARecord, ...] = ()
    error: str | None = None


def lookup_tlsa(dns: DNSLookup, host: str, port: int = 25) -> TLSALookup:
    """TLSA of the SMTP service of ``host``; always port 25's name (where senders look)."""
    name = f"_{port}._tcp.{host}"
    try:
        records = dns.query(name, "TLSA")
    except VariomediaError as error:
        return TLSALookup(name, error=str(error))
    return TLSALookup(name, tuple(TLSARecord.from_rdata(r) for r in records))


@dataclass(frozen=True)
class PolicyRecord:
    """A ``v=...`` TXT record that announces a policy (MTA-STS, TLS-RPT); ``records`` are all
    such records (senders ignore them all when there is more than one)."""

    name: str
    present: bool = False
    record: str | None = None
    error: str | None = None
    records: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.records)


def _txt(rdata: object) -> str:
    strings = getattr(rdata, "strings", ())
    return b"".join(strings).decode("utf-8", errors="replace")


def lookup_policy(dns: DNSLookup, name: str, version_tag: str) -> PolicyRecord:
    """The TXT record at ``name`` that starts with ``version_tag`` (e.g. ``v=STSv1``)."""
    try:
        values = [_txt(r) for r in dns.query(name, "TXT")]
    except VariomediaError as error:
        return PolicyRecord(name, error=str(error))
    found = [
        value
        for value in values
        if value.replace(" ", "").split(";", 1)[0].lower() == version_tag.lower()
    ]
    if found:
        return PolicyRecord(name, present=True, record=found[0], records=tuple(found))
    return PolicyRecord(name)


def lookup_mta_sts(dns: DNSLookup, domain: str) -> PolicyRecord:
    """RFC 8461: ``_mta-sts.<domain>`` TXT ``v=STSv1; id=...``."""
    return lookup_policy(dns, f"_mta-sts.{domain}", "v=STSv1")


def lookup_tls_rpt(dns: DNSLookup, domain: str) -> PolicyRecord:
    """RFC 8460: ``_smtp._tls.<domain>`` TXT ``v=TLSRPTv1; rua=...``."""
    return lookup_policy(dns, f"_smtp._tls.{domain}", "v=TLSRPTv1")
