"""The simulated account: domains, DNS records, queue jobs, and what each name server serves.

Nothing runs in the background. A job is `pending` until `created + job_delay` and a name
server takes a finished write `delay_i` seconds later; every answer (HTTP or DNS) is computed
from the clock when it is asked for, so the simulator is deterministic under a fake clock.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from ...clock import Clock
from ..servers.dns import Lookup, Zone, resolve
from .config import (
    NOT_ACE_ENCODABLE,
    RECORD_TYPES,
    SimConfig,
    SimNameServer,
    to_ace,
    to_unicode,
)

__all__ = [
    "JOB_RETENTION",
    "Account",
    "ApiError",
    "DomainSnapshot",
    "ErrorItem",
    "JobOutcome",
    "JobSnapshot",
    "NewRecord",
    "PublishedZones",
    "RecordSnapshot",
]

JobOutcome = Literal["done", "failed", "stuck"]
"""How a job ends: done, failed (the write never takes effect), or never (pending forever)."""

JOB_RETENTION = 24 * 3600.0
"""Finished jobs vanish from the API after 24 hours, as the spec says."""

DEFAULT_TTL = 3600
MIGRATION_TTL = 300
"""In DNS migration mode every record is served with a TTL of 300 s."""

_SOA_TIMERS = "10800 3600 604800 300"  # refresh retry expire minimum
_SERIAL_BASE = 2025010100


@dataclass(frozen=True)
class ErrorItem:
    """One entry of a JSON:API `errors` list. Variomedia puts its message in `title`."""

    code: str
    title: str
    detail: str | None = None
    pointer: str | None = None
    parameter: str | None = None


class ApiError(Exception):
    """An answer with an error document: raised anywhere, rendered once by the HTTP layer."""

    def __init__(self, status: int, *items: ErrorItem) -> None:
        super().__init__(f"{status}: " + "; ".join(item.title for item in items))
        self.status = status
        self.items = items

    @classmethod
    def not_found(cls, kind: str, ident: str) -> ApiError:
        return cls(404, ErrorItem("resource_not_found", f"{kind} with ID '{ident}' not found."))

    @classmethod
    def invalid(cls, *problems: tuple[str, str]) -> ApiError:
        """422 with one error per (JSON pointer, message)."""
        return cls(
            422,
            *(ErrorItem("invalid_api_data", title, pointer=pointer) for pointer, title in problems),
        )


@dataclass(frozen=True)
class NewRecord:
    """The attributes of a POST /dns-records, type-checked by the HTTP layer."""

    record_type: str
    name: str
    domain: str
    data: str
    ttl: int | None = None


@dataclass(frozen=True)
class DomainSnapshot:
    name: str  # Unicode
    ace: str
    presence: bool
    registered: bool
    update_lock: bool
    migration_mode: bool
    package_id: str


@dataclass(frozen=True)
class RecordSnapshot:
    """A record as the account holds it; `deleted` ones are gone from the API, maybe not DNS."""

    id: str
    record_type: str
    name: str
    name_ace: str
    domain: str
    domain_ace: str
    data: str
    ttl: int
    tags: tuple[str, ...]
    deletable: bool
    package_id: str
    source: Literal["base", "seeded", "api"]
    create_job: str | None
    delete_job: str | None
    deleted: bool

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.domain}" if self.name else self.domain

    @property
    def fqdn_ace(self) -> str:
        return f"{self.name_ace}.{self.domain_ace}" if self.name_ace else self.domain_ace


@dataclass(frozen=True)
class JobSnapshot:
    id: str
    job_type: str
    object_path: str  # e.g. /dns-records/20000001
    status: str  # pending, done, failed
    created_at: float
    done_at: float | None  # None: never (stuck)


@dataclass
class _Job:
    id: str
    job_type: str
    object_path: str
    created_at: float
    done_at: float
    outcome: JobOutcome

    def status(self, now: float) -> str:
        if self.outcome == "stuck" or now < self.done_at:
            return "pending"
        return self.outcome

    def effective_at(self) -> float | None:
        """When the write took effect on the platform; None if it never does."""
        return self.done_at if self.outcome == "done" else None

    def snapshot(self, now: float) -> JobSnapshot:
        done_at = None if self.outcome == "stuck" else self.done_at
        return JobSnapshot(
            self.id, self.job_type, self.object_path, self.status(now), self.created_at, done_at
        )


@dataclass
class _Record:
    snapshot: RecordSnapshot
    rdata: dns.rdata.Rdata
    created_by: _Job | None  # None: there from the start (base or seeded)
    deleted_by: _Job | None = None

    def appears_at(self, server: SimNameServer) -> float | None:
        if self.created_by is None:
            return -math.inf
        effective = self.created_by.effective_at()
        if effective is None or not server.publish:
            return None
        return effective + server.delay

    def disappears_at(self, server: SimNameServer) -> float | None:
        effective = None if self.deleted_by is None else self.deleted_by.effective_at()
        if effective is None or not server.publish:
            return None
        return effective + server.delay

    def visible(self, server: SimNameServer, now: float) -> bool:
        appears, disappears = self.appears_at(server), self.disappears_at(server)
        return appears is not None and appears <= now and (disappears is None or now < disappears)

    def changes(self, server: SimNameServer, now: float) -> int:
        """Publications and withdrawals this server has made by `now` (for the SOA serial)."""
        moments = (self.appears_at(server), self.disappears_at(server))
        return sum(1 for m in moments if m is not None and math.isfinite(m) and m <= now)


class Account:
    """The account's data and every operation on it; thread-safe, errors as `ApiError`."""

    def __init__(self, config: SimConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._domains: dict[str, DomainSnapshot] = {}
        self._records: dict[str, _Record] = {}
        self._jobs: dict[str, _Job] = {}
        self._record_ids = itertools.count(20000001)
        self._job_ids = itertools.count(18000001)
        self._ns_names = [to_ace(ns.name) for ns in config.nameservers]
        self._ns_zones = self._nameserver_zones()
        for domain in config.domains:
            ace = to_ace(domain.name)
            snapshot = DomainSnapshot(
                name=to_unicode(ace),
                ace=ace,
                presence=domain.presence,
                registered=domain.registered,
                update_lock=domain.update_lock,
                migration_mode=domain.migration_mode,
                package_id=domain.package_id,
            )
            self._domains[ace] = snapshot
            if domain.presence:
                for base in domain.base_records:
                    new = NewRecord(base.record_type, base.name, ace, base.data, base.ttl)
                    self._seed(new, base.tags, deletable=base.deletable, source="base")

    # -- domains -------------------------------------------------------------------------------

    def domains(
        self, owner_ids: set[str] | None = None, package_ids: set[str] | None = None
    ) -> list[DomainSnapshot]:
        with self._lock:
            if owner_ids is not None and self._config.customer_id not in owner_ids:
                return []
            return [
                d
                for d in self._domains.values()
                if package_ids is None or d.package_id in package_ids
            ]

    def domain(self, name: str) -> DomainSnapshot:
        with self._lock:
            return self._domain(name)

    def patch_domain(
        self,
        name: str,
        *,
        update_lock: bool | None,
        migration_mode: bool | None,
        with_job: bool = False,
    ) -> tuple[DomainSnapshot, JobSnapshot | None]:
        """Change the presence settings at once; `with_job` also queues a job to wait on
        (the variant where PATCH answers 202 with a queue job)."""
        with self._lock:
            domain = self._domain(name)
            if not domain.presence:
                raise ApiError.invalid(
                    (
                        "/data/attributes/presence",
                        f"Domain '{name}' has no presence here; its DNS is not managed by us.",
                    )
                )
            domain = self._domains[domain.ace] = replace(
                domain,
                update_lock=domain.update_lock if update_lock is None else update_lock,
                migration_mode=domain.migration_mode if migration_mode is None else migration_mode,
            )
            if not with_job:
                return domain, None
            job = self._new_job("domain", f"/domains/{domain.ace}", "done")
            return domain, job.snapshot(self._clock.monotonic())

    def _domain(self, name: str) -> DomainSnapshot:
        try:
            domain = self._domains.get(to_ace(name))
        except ValueError:
            domain = None
        if domain is None:
            raise ApiError.not_found("Domain", name)
        return domain

    # -- records -------------------------------------------------------------------------------

    def records(
        self,
        domains: set[str] | None = None,
        package_ids: set[str] | None = None,
        *,
        include_deleted: bool = False,
    ) -> list[RecordSnapshot]:
        wanted = None if domains is None else _ace_set(domains)
        with self._lock:
            return [
                r.snapshot
                for r in self._records.values()
                if (include_deleted or not r.snapshot.deleted)
                and (wanted is None or r.snapshot.domain_ace in wanted)
                and (package_ids is None or r.snapshot.package_id in package_ids)
            ]

    def record(self, record_id: str) -> RecordSnapshot:
        with self._lock:
            return self._live_record(record_id).snapshot

    def create_record(
        self, new: NewRecord, outcome: JobOutcome = "done"
    ) -> tuple[RecordSnapshot, JobSnapshot]:
        """Validate like the API (all problems at once), store the record, queue its job."""
        with self._lock:
            self._check(new)
            record_id = str(next(self._record_ids))
            job = self._new_job("dns-record", f"/dns-records/{record_id}", outcome)
            snapshot = self._record_snapshot(
                record_id, new, ("custom",), deletable=True, source="api", create_job=job.id
            )
            self._records[record_id] = _Record(
                snapshot, _rdata(new.record_type, new.data), created_by=job
            )
            return snapshot, job.snapshot(self._clock.monotonic())

    def delete_record(
        self, record_id: str, outcome: JobOutcome = "done", *, at_once: bool = False
    ) -> tuple[RecordSnapshot, JobSnapshot]:
        """Remove the record from the API now; DNS follows when the job is done.

        `at_once` finishes the job immediately (the variant where DELETE answers `done`).
        """
        with self._lock:
            record = self._live_record(record_id)
            if not record.snapshot.deletable:
                raise ApiError(
                    403,
                    ErrorItem(
                        "forbidden",
                        f"DNS record with ID '{record_id}' is managed by Variomedia "
                        "and cannot be deleted.",
                    ),
                )
            job = self._new_job("dns-record", f"/dns-records/{record_id}", outcome, at_once=at_once)
            record.deleted_by = job
            record.snapshot = replace(record.snapshot, deleted=True, delete_job=job.id)
            return record.snapshot, job.snapshot(self._clock.monotonic())

    def seed(
        self,
        domain: str,
        name: str,
        record_type: str,
        data: str,
        *,
        ttl: int = DEFAULT_TTL,
        tags: Sequence[str] = ("custom",),
        deletable: bool = True,
    ) -> RecordSnapshot:
        """Put a record in place without the API: visible at once on every name server."""
        with self._lock:
            return self._seed(
                NewRecord(record_type, name, domain, data, ttl),
                tuple(tags),
                deletable=deletable,
                source="seeded",
            )

    def _live_record(self, record_id: str) -> _Record:
        record = self._records.get(record_id)
        if record is None or record.snapshot.deleted:
            raise ApiError.not_found("DNS record", record_id)
        return record

    def _seed(
        self,
        new: NewRecord,
        tags: tuple[str, ...],
        *,
        deletable: bool,
        source: Literal["base", "seeded"],
    ) -> RecordSnapshot:
        """A record that exists from now on every name server, without a job.

        Seeds come from the test's own code, so a bad one is a ValueError, not an API error.
        """
        problems = self._problems(new)
        if problems:
            raise ValueError("; ".join(f"{pointer}: {title}" for pointer, title in problems))
        record_id = str(next(self._record_ids))
        snapshot = self._record_snapshot(
            record_id, new, tags, deletable=deletable, source=source, create_job=None
        )
        self._records[record_id] = _Record(
            snapshot, _rdata(new.record_type, new.data), created_by=None
        )
        return snapshot

    def _record_snapshot(
        self,
        record_id: str,
        new: NewRecord,
        tags: tuple[str, ...],
        *,
        deletable: bool,
        source: Literal["base", "seeded", "api"],
        create_job: str | None,
    ) -> RecordSnapshot:
        """The stored form of a checked new record."""
        domain = self._domains[to_ace(new.domain)]
        name_ace = _relative_ace(new.name)
        data = new.data
        if new.record_type == "CNAME":
            data = data.rstrip(".")  # the API reads CNAME data as absolute, dot or no dot
        return RecordSnapshot(
            id=record_id,
            record_type=new.record_type,
            name=to_unicode(name_ace),
            name_ace=name_ace,
            domain=domain.name,
            domain_ace=domain.ace,
            data=data,
            ttl=DEFAULT_TTL if new.ttl is None else new.ttl,
            tags=tags,
            deletable=deletable,
            package_id=domain.package_id,
            source=source,
            create_job=create_job,
            delete_job=None,
            deleted=False,
        )

    def _check(self, new: NewRecord) -> None:
        problems = self._problems(new)
        if problems:
            raise ApiError.invalid(*problems)

    def _problems(self, new: NewRecord) -> list[tuple[str, str]]:
        """Every (pointer, message) wrong with a new record, checked like the API does."""
        problems: list[tuple[str, str]] = []
        try:
            domain = self._domains.get(to_ace(new.domain))
        except ValueError:
            domain = None
        if domain is None or not domain.presence:
            problems.append(
                (
                    "/data/attributes/domain",
                    f"Domain '{new.domain}' is not a presence domain of this account.",
                )
            )
        if new.record_type not in RECORD_TYPES:
            problems.append(
                ("/data/attributes/record_type", f"Must be one of: {', '.join(RECORD_TYPES)}.")
            )
        name_ace: str | None = None
        try:
            name_ace = _relative_ace(new.name)
        except ValueError:
            problems.append(("/data/attributes/name", NOT_ACE_ENCODABLE))
        if new.ttl is not None and not 300 <= new.ttl <= 86400:
            problems.append(("/data/attributes/ttl", "Must be between 300 and 86400."))
        if new.record_type in RECORD_TYPES:
            try:
                _rdata(new.record_type, new.data)
            except ValueError as error:
                problems.append(("/data/attributes/data", str(error)))
        if domain is not None and name_ace is not None and new.record_type in RECORD_TYPES:
            conflict = self._cname_conflict(domain.ace, name_ace, new.record_type)
            if conflict:
                problems.append(("/data/attributes/name", conflict))
        return problems

    def _cname_conflict(self, domain_ace: str, name_ace: str, record_type: str) -> str | None:
        """A CNAME cannot share its name with any other record (RFC 1034), so a zone could not
        publish it; the API refuses it rather than serve a broken zone."""
        others = [
            r.snapshot.record_type
            for r in self._records.values()
            if not r.snapshot.deleted
            and r.snapshot.domain_ace == domain_ace
            and r.snapshot.name_ace == name_ace
        ]
        if record_type == "CNAME" and others:
            return "A CNAME record cannot share its name with other records."
        if record_type != "CNAME" and "CNAME" in others:
            return "This name already has a CNAME record."
        return None

    # -- jobs ----------------------------------------------------------------------------------

    def pending_jobs(self) -> list[JobSnapshot]:
        now = self._clock.monotonic()
        with self._lock:
            return [j.snapshot(now) for j in self._jobs.values() if j.status(now) == "pending"]

    def job(self, job_id: str) -> JobSnapshot:
        now = self._clock.monotonic()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or (job.status(now) != "pending" and now >= job.done_at + JOB_RETENTION):
                raise ApiError.not_found("Queue job", job_id)
            return job.snapshot(now)

    def jobs(self) -> list[JobSnapshot]:
        """Every job ever created, expired ones included (for tests)."""
        now = self._clock.monotonic()
        with self._lock:
            return [j.snapshot(now) for j in self._jobs.values()]

    def _new_job(
        self, job_type: str, object_path: str, outcome: JobOutcome, *, at_once: bool = False
    ) -> _Job:
        now = self._clock.monotonic()
        done_at = now if at_once else now + self._config.job_delay
        job = _Job(str(next(self._job_ids)), job_type, object_path, now, done_at, outcome)
        self._jobs[job.id] = job
        return job

    # -- DNS -----------------------------------------------------------------------------------

    def zones(self, server_index: int) -> dict[dns.name.Name, Zone]:
        """The zones name server `server_index` serves right now."""
        now = self._clock.monotonic()
        server = self._config.nameservers[server_index]
        zones = dict(self._ns_zones)
        with self._lock:
            for domain in self._domains.values():
                if domain.presence:
                    zone = self._domain_zone(domain, server, now)
                    zones[zone.origin] = zone
        return zones

    def _domain_zone(self, domain: DomainSnapshot, server: SimNameServer, now: float) -> Zone:
        def served(ttl: int) -> int:
            return MIGRATION_TTL if domain.migration_mode else ttl

        origin = dns.name.from_text(domain.ace)
        records = [r for r in self._records.values() if r.snapshot.domain_ace == domain.ace]
        serial = _SERIAL_BASE + sum(r.changes(server, now) for r in records)
        primary = self._ns_names[0]
        soa = f"{primary}. hostmaster.{primary}. {serial} {_SOA_TIMERS}"
        rrsets = [
            _rrset(origin, "SOA", served(DEFAULT_TTL), soa),
            _rrset(origin, "NS", served(DEFAULT_TTL), *(f"{n}." for n in self._ns_names)),
        ]
        for record in records:
            if record.visible(server, now):
                owner = dns.name.from_text(record.snapshot.fqdn_ace)
                rrsets.append(
                    dns.rrset.from_rdata_list(owner, served(record.snapshot.ttl), [record.rdata])
                )
        return Zone.from_rrsets(origin, rrsets)

    def _nameserver_zones(self) -> dict[dns.name.Name, Zone]:
        """A zone for the parent of each name server name, with the servers' addresses in it,
        so a client can find a server's address from its NS name like on the Internet."""
        ns_names = self._ns_names
        addresses = self._config.dns_addresses or ["127.0.0.1"] * len(ns_names)
        by_origin: dict[str, list[dns.rrset.RRset]] = {}
        for name, address in zip(ns_names, addresses, strict=True):
            rrsets = by_origin.setdefault(name.partition(".")[2], [])
            rrsets.append(_rrset(name, "AAAA" if ":" in address else "A", DEFAULT_TTL, address))
        zones: dict[dns.name.Name, Zone] = {}
        for origin_text, rrsets in by_origin.items():
            origin = dns.name.from_text(origin_text)
            soa = f"{ns_names[0]}. hostmaster.{origin_text}. {_SERIAL_BASE} {_SOA_TIMERS}"
            rrsets.append(_rrset(origin, "SOA", DEFAULT_TTL, soa))
            rrsets.append(_rrset(origin, "NS", DEFAULT_TTL, *(f"{n}." for n in ns_names)))
            zones[origin] = Zone.from_rrsets(origin, rrsets)
        return zones


class PublishedZones:
    """The `ZoneSource` of one simulated name server."""

    def __init__(self, account: Account, server_index: int) -> None:
        self._account = account
        self._index = server_index

    def lookup(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
        return resolve(self._account.zones(self._index), qname, rdtype)


def _relative_ace(name: str) -> str:
    """The ACE form of a record name relative to its domain; "" and "@" mean the apex."""
    return "" if name in ("", "@") else to_ace(name, wildcard=True)


def _ace_set(names: Iterable[str]) -> set[str]:
    """ACE forms of filter values; a value that has none matches nothing."""
    result = set()
    for name in names:
        try:
            result.add(to_ace(name))
        except ValueError:
            continue
    return result


def _rdata(record_type: str, data: str) -> dns.rdata.Rdata:
    """The DNS form of a record's data; ValueError with the API's message if it has none.

    Names inside the data (CNAME, MX, SRV targets) are absolute, dot or no dot, as the spec
    says for CNAME. A TXT value is one string, split into 255-byte pieces on the wire.
    """
    if not data:
        raise ValueError("Must not be empty.")
    try:
        if record_type == "TXT":
            value = data.encode()
            chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
            return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
        if record_type == "CNAME":
            to_ace(data.rstrip("."))
        return dns.rdata.from_text(
            dns.rdataclass.IN, record_type, data, origin=dns.name.root, relativize=False
        )
    except Exception as error:  # dnspython raises many kinds for bad zone-file text
        raise ValueError(f"Not a valid {record_type} record: {data!r}.") from error


def _rrset(owner: str | dns.name.Name, rdtype: str, ttl: int, *texts: str) -> dns.rrset.RRset:
    """An rrset from zone-file texts; every name, the owner included, is absolute."""
    if isinstance(owner, str):
        owner = dns.name.from_text(owner)  # from_text_list would keep a text owner relative
    return dns.rrset.from_text_list(
        owner, ttl, "IN", rdtype, texts, origin=dns.name.root, relativize=False
    )
