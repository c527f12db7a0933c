"""What the Variomedia API returns, as typed values, each parsed once from its JSON:API resource.

Parsing is tolerant where the live API is known to vary (``name`` or ``name_ace``, ``type`` or
``record_type``, a ``presence`` left out of a list): the rest of the project sees one shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..names import to_ace
from . import jsonapi

# Variomedia's TTL limits for records written through the API.
MIN_TTL, MAX_TTL = 300, 86400
# A record id goes into a URL path (DELETE /dns-records/{id}): only letters, digits, '-' and
# '_', so that no id from a state file, an API link or the command line can be '.', '..', a
# path or a query. Variomedia's ids are numbers.
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


_JOB_STATUS = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def is_record_id(value: object) -> bool:
    """Whether `value` has the strict form of a record id (see `_RECORD_ID`)."""
    return isinstance(value, str) and _RECORD_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Domain:
    """A domain of the account. ``name`` is ACE lower-case; the lock fields are ``None`` when the
    document did not say (a list may leave out details that ``GET /domains/{name}`` has)."""

    name: str
    has_presence: bool
    update_lock: bool | None = None
    migration_mode: bool | None = None
    package_id: str | None = None


@dataclass(frozen=True)
class DNSRecord:
    """A DNS record; names are ACE lower-case, ``name`` is relative (``""`` for the apex)."""

    id: str
    record_type: str
    domain: str
    name: str
    fqdn: str
    data: str
    ttl: int | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueJob:
    """An asynchronous write. ``done`` is success; any other status than ``pending`` is failure."""

    id: str
    status: str
    job_type: str | None = None
    object_url: str | None = None

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class RecordWrite:
    """What a POST or DELETE on ``/dns-records`` answered: the record's id and its queue job."""

    record_id: str
    job: QueueJob | None
    already_gone: bool = False  # DELETE of a record that no longer exists


def last_segment(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def _related_id(resource: jsonapi.Resource, name: str) -> str | None:
    related = resource.relationships.get(name)
    data = related.get("data") if isinstance(related, Mapping) else None
    found = data.get("id") if isinstance(data, Mapping) else None
    return None if found is None else str(found)


def domain_from(resource: jsonapi.Resource) -> Domain:
    name = to_ace(str(resource.attr("name_ace") or resource.attr("name") or resource.id or ""))
    presence = resource.attr("presence")
    if not isinstance(presence, Mapping):
        return Domain(name=name, has_presence=False)
    lock = presence.get("dns_update_lock")
    migration = presence.get("dns_migration_mode")
    if isinstance(migration, Mapping):
        migration = migration.get("enabled")
    package = presence.get("package_id") or _related_id(resource, "package")
    return Domain(
        name=name,
        has_presence=True,
        update_lock=lock if isinstance(lock, bool) else None,
        migration_mode=migration if isinstance(migration, bool) else None,
        package_id=None if package is None else str(package),
    )


def record_from(resource: jsonapi.Resource) -> DNSRecord:
    a = resource.attributes
    domain = to_ace(str(a.get("domain_ace") or a.get("domain") or ""))
    fqdn_raw = a.get("fqdn_ace") or a.get("fqdn")
    name_raw = a.get("name_ace") if a.get("name_ace") is not None else a.get("name")
    name = "" if name_raw in (None, "", "@") else to_ace(str(name_raw))
    fqdn = to_ace(str(fqdn_raw)) if fqdn_raw else (f"{name}.{domain}" if name else domain)
    ttl = a.get("ttl")
    tags = a.get("tags")
    return DNSRecord(
        id=str(resource.id),
        record_type=str(a.get("record_type") or a.get("type") or "").upper(),
        domain=domain,
        name=name,
        fqdn=fqdn,
        data=str(a.get("data") or ""),
        ttl=int(ttl) if isinstance(ttl, int | str) and str(ttl).isdigit() else None,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
    )


def job_from(resource: jsonapi.Resource, fallback_url: str | None = None) -> QueueJob:
    job_id = resource.id or last_segment(
        resource.links.get("queue-job") or resource.links.get("self") or fallback_url or ""
    )
    status = str(resource.attr("status") or "unknown").lower()
    return QueueJob(
        id=job_id,
        # Messages quote the status: a word, or what it is (any status but these is failure).
        status=status if _JOB_STATUS.fullmatch(status) else "unrecognised",
        job_type=resource.attr("job_type"),
        object_url=resource.links.get("object") or resource.links.get("dns-record"),
    )
