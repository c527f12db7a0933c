"""Configuration of the Variomedia simulator: the account, its name servers, and the variants.

Where the real API's behaviour is not documented, the simulator can play each plausible answer,
so the client is proven against all of them, not against one guess.
"""

from __future__ import annotations

import encodings.idna
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_BASE_RECORDS",
    "DEFAULT_TOKEN",
    "RECORD_TYPES",
    "BaseRecord",
    "Lockout",
    "SimConfig",
    "SimDomain",
    "SimNameServer",
    "to_ace",
    "to_unicode",
]

DEFAULT_TOKEN = "sandbox-token-variomedia-sim-0001"  # noqa: S105 - a fixed test token, no secret
"""The token the simulator accepts unless told otherwise; it opens nothing but the simulator."""

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA")
"""The record types the API can create."""

NOT_ACE_ENCODABLE = "Not ACE-encodable."

_ASCII_LABEL = re.compile(r"[a-z0-9_-]{1,63}", re.IGNORECASE)


def to_ace(name: str, *, wildcard: bool = False) -> str:
    """The lower-case ACE form of a name given in Unicode or ACE; ValueError if there is none.

    ASCII labels may hold letters, digits, `-` and `_` (`_acme-challenge` must pass); other
    labels go through IDNA. With `wildcard`, the first label may be `*`.
    """
    labels = name.split(".")
    ace: list[str] = []
    for position, label in enumerate(labels):
        if wildcard and position == 0 and label == "*":
            ace.append(label)
        elif label.isascii():
            lowered = label.lower()
            if not _ASCII_LABEL.fullmatch(label) or (
                lowered.startswith("xn--") and _label_to_ace(_label_to_unicode(lowered)) != lowered
            ):
                raise ValueError(NOT_ACE_ENCODABLE)
            ace.append(lowered)
        else:
            ace.append(_label_to_ace(label))
    result = ".".join(ace)
    if len(result) > 253:
        raise ValueError(NOT_ACE_ENCODABLE)
    return result


def to_unicode(ace: str) -> str:
    """The Unicode form of an ACE name (ACE labels decoded, the rest unchanged)."""
    return ".".join(_label_to_unicode(label) for label in ace.split("."))


def _label_to_ace(label: str) -> str:
    try:
        return encodings.idna.ToASCII(label).decode("ascii").lower()
    except UnicodeError:
        raise ValueError(NOT_ACE_ENCODABLE) from None


def _label_to_unicode(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return encodings.idna.ToUnicode(label)
    except UnicodeError:
        raise ValueError(NOT_ACE_ENCODABLE) from None


@dataclass(frozen=True)
class BaseRecord:
    """A record a domain has from the start (visible at once on every name server)."""

    record_type: str
    name: str  # relative to the domain, "" for the apex
    data: str
    ttl: int = 3600
    tags: tuple[str, ...] = ("base",)
    deletable: bool = True


DEFAULT_BASE_RECORDS = (
    BaseRecord("A", "", "192.0.2.80"),
    BaseRecord("A", "www", "192.0.2.80"),
    BaseRecord("MX", "", "10 mx.variomedia.test"),
    BaseRecord("TXT", "", "v=spf1 include:_spf.variomedia.test ~all"),
    BaseRecord(
        "TXT",
        "vmd._domainkey",
        "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC3sim",
        tags=("dkim",),
        deletable=False,  # managed by Variomedia: the spec says DKIM records cannot be deleted
    ),
)
"""What Variomedia sets up for a new presence domain: web, mail, SPF, and its own DKIM key."""


@dataclass(frozen=True)
class SimDomain:
    """A domain of the account. Only presence domains have DNS records and zones."""

    name: str
    presence: bool = True
    update_lock: bool = False
    migration_mode: bool = False
    package_id: str = "1"
    registered: bool = True
    base_records: tuple[BaseRecord, ...] = DEFAULT_BASE_RECORDS

    def __post_init__(self) -> None:
        to_ace(self.name)
        if not (self.presence or self.registered):
            raise ValueError(f"domain {self.name!r} must be registered, a presence, or both")


@dataclass(frozen=True)
class SimNameServer:
    """A simulated authoritative server: it publishes a write `delay` seconds after its job.

    With `publish` False it never takes a change made through the API (a stale secondary).
    """

    name: str
    delay: float = 0.0
    publish: bool = True

    def __post_init__(self) -> None:
        to_ace(self.name)
        if self.delay < 0:
            raise ValueError(f"name server {self.name}: delay cannot be negative")


@dataclass(frozen=True)
class Lockout:
    """The API locks a client out after `errors` 4xx answers (429s included) within `window`."""

    errors: int = 30
    window: float = 60.0
    duration: float = 60.0
    status: Literal[403, 429] = 403


@dataclass(frozen=True)
class SimConfig:
    """Everything a simulator run is made of. The defaults behave like the documented API."""

    token: str = field(default=DEFAULT_TOKEN, repr=False)
    customer_id: str = "505050"
    domains: Sequence[SimDomain] = (SimDomain("example.test"),)
    nameservers: Sequence[SimNameServer] = (
        SimNameServer("ns1.variomedia.test"),
        SimNameServer("ns2.variomedia.test", delay=0.3),
    )
    dns_addresses: Sequence[str] | None = None
    """None: every name server on 127.0.0.1 with a port of its own. Otherwise one address per
    name server (e.g. 127.0.0.2, 127.0.0.3) sharing one port, so discovering a server by its
    name's A record and querying that address works like on the Internet."""
    dns_port: int = 0
    """With `dns_addresses`: the port every name server binds, e.g. 53 for a validator that
    asks nowhere else (acme2certifier); binding it fails at start rather than moving on.
    0: a port free on all the addresses, found at start."""
    job_delay: float = 0.2
    page_size: int = 25
    rate_limit: tuple[int, float] | None = (10, 10.0)
    """(requests, seconds) per client address, or None for no limit."""
    lockout: Lockout | None = field(default_factory=Lockout)

    # Variants where the real API is uncertain.
    post_status: Literal[200, 201, 202] = 202
    job_link: Literal["both", "body", "header"] = "both"
    """Where a write's answer names its queue job: the body's links["queue-job"], the
    Content-Location header, or both (documented: either)."""
    delete_answer: Literal["pending", "done"] = "pending"
    """DELETE answers 202 with a pending job, or 200 with a job already done."""
    domain_list_presence: Literal["full", "minimal"] = "full"
    """"minimal": GET /domains omits dns_update_lock, so a client must GET the domain itself."""
    capital_names: bool = False
    extra_attributes: bool = False
    """Add unknown attributes and meta members to every resource, as future versions may."""
    patch_answer: Literal["domain", "job"] = "domain"
    """PATCH /domains/{name} answers 200 with the domain, or 202 with a queue job."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "domains", tuple(self.domains))
        object.__setattr__(self, "nameservers", tuple(self.nameservers))
        if self.dns_addresses is not None:
            object.__setattr__(self, "dns_addresses", tuple(self.dns_addresses))
        self._validate()

    def _validate(self) -> None:
        if not self.token:
            raise ValueError("token must not be empty")
        names = [to_ace(d.name) for d in self.domains]
        if len(set(names)) != len(names):
            raise ValueError("domain names must be unique")
        servers = [to_ace(ns.name) for ns in self.nameservers]
        if not servers or len(set(servers)) != len(servers):
            raise ValueError("at least one name server, with unique names, is needed")
        for server in servers:
            zone = server.partition(".")[2]
            if any(zone == d or zone.endswith("." + d) for d in names):
                raise ValueError(f"name server {server} must not lie in an account domain")
        if self.dns_addresses is not None and len(self.dns_addresses) != len(servers):
            raise ValueError("dns_addresses needs exactly one address per name server")
        if not 0 <= self.dns_port <= 65535:
            raise ValueError("dns_port must be a port number, or 0 for a free one")
        if self.dns_port and self.dns_addresses is None:
            raise ValueError("dns_port needs dns_addresses: one server per address shares it")
        if self.job_delay < 0:
            raise ValueError("job_delay cannot be negative")
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if self.rate_limit is not None and (self.rate_limit[0] < 1 or self.rate_limit[1] <= 0):
            raise ValueError("rate_limit needs at least one request per positive window")
