"""The Variomedia customer API client: the only code in the project that speaks HTTP to Variomedia.

It keeps the promises the rest of the project builds on:

* it never draws a 429 from its own traffic (`pacing.RequestPacer`), honours ``Retry-After`` when
  one comes anyway, and stops after a bounded number of failures in a row instead of hammering
  the API into its error lockout;
* it retries only what is safe to repeat (GET, DELETE, PATCH); a POST whose outcome is unclear
  is never repeated blindly: the client first looks for the record it may have created;
* every failure becomes one exception of `errors` whose message says what to fix;
* the token appears nowhere but in the ``Authorization`` header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ..clock import SYSTEM_CLOCK, Clock
from ..credentials import VariomediaCredentials
from ..errors import ConfigurationError, JobError, NetworkError, NotFoundError, ServerError
from ..names import to_ace
from ..pacing import FileLedger, RequestPacer
from ..paths import pacing_ledger_file
from . import jsonapi
from .models import (
    DNSRecord,
    Domain,
    QueueJob,
    RecordWrite,
    domain_from,
    is_record_id,
    job_from,
    last_segment,
    record_from,
)
from .transport import Transport, check_api_url

logger = logging.getLogger(__name__)


class VariomediaClient(Transport):
    """Typed access to the endpoints the project needs, paced and with bounded retries."""

    @classmethod
    def from_credentials(
        cls, credentials: VariomediaCredentials, *, clock: Clock = SYSTEM_CLOCK
    ) -> VariomediaClient:
        """The client every front door uses: paced together with every other process of this
        user that talks to the same API host (they all share one IP's rate limit)."""
        base_url = check_api_url(credentials.api_url)
        ledger = FileLedger(pacing_ledger_file(urlsplit(base_url).netloc), clock=clock)
        return cls(
            credentials.token,
            base_url,
            token_source=credentials.source,
            clock=clock,
            pacer=RequestPacer(clock=clock, ledger=ledger),
        )

    def __repr__(self) -> str:
        return f"VariomediaClient(api_url={self.base_url!r})"

    def __enter__(self) -> VariomediaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- domains ---------------------------------------------------------------------------

    def list_domains(self) -> list[Domain]:
        """Every domain of the account (``presence`` tells whether its DNS is hosted here)."""
        return [domain_from(r) for r in self._list("/domains")]

    def get_domain(self, name: str) -> Domain:
        return domain_from(self._get_one(f"/domains/{quote(to_ace(name), safe='')}"))

    def set_update_lock(self, name: str, enabled: bool) -> QueueJob | None:
        """Switch the domain's DNS update lock (a tariff change then cannot reset records)."""
        return self._patch_presence(name, {"dns_update_lock": enabled})

    def set_migration_mode(self, name: str, enabled: bool) -> QueueJob | None:
        """Switch DNS migration mode (all TTLs 300 s; Variomedia advises an hour's notice)."""
        return self._patch_presence(name, {"dns_migration_mode": {"enabled": enabled}})

    def _patch_presence(self, name: str, presence: Mapping[str, Any]) -> QueueJob | None:
        ace = to_ace(name)
        body = jsonapi.document("domain", {"presence": dict(presence)}, resource_id=ace)
        doc, response = self._request("PATCH", f"/domains/{quote(ace, safe='')}", body=body)
        return self._job_of(doc, response)

    # -- DNS records -----------------------------------------------------------------------

    def list_records(
        self, domains: Iterable[str] = (), package_ids: Iterable[str] = ()
    ) -> list[DNSRecord]:
        """Records, filtered by domains and/or packages (OR within a filter, AND across)."""
        params: dict[str, str] = {}
        if domain_list := [to_ace(d) for d in domains]:
            params["filter[domain]"] = ",".join(domain_list)
        if package_list := [str(p) for p in package_ids]:
            params["filter[package_id]"] = ",".join(package_list)
        return [record_from(r) for r in self._list("/dns-records", params)]

    def get_record(self, record_id: str) -> DNSRecord:
        return record_from(self._get_one(_record_path(record_id)))

    def create_record(
        self, domain: str, name: str, record_type: str, data: str, ttl: int | None = None
    ) -> RecordWrite:
        """Create one record. If the answer is lost, find the record rather than make a twin."""
        domain, record_type = to_ace(domain), record_type.upper()
        name = to_ace(name) if name not in ("", "@") else ""
        attributes: dict[str, Any] = {
            "record_type": record_type,
            "name": name,
            "domain": domain,
            "data": data,
        }
        if ttl is not None:
            attributes["ttl"] = ttl
        body = jsonapi.document("dns-record", attributes)
        label = f"{record_type} {name or '@'}.{domain}"
        for attempt in range(1, self.retry.attempts + 1):
            try:
                doc, response = self._request("POST", "/dns-records", body=body)
            except (ServerError, NetworkError) as e:
                if not e.unclear:
                    raise
                logger.info("The answer to creating %s was lost (%s); looking for it", label, e)
                found = self._find_created(domain, name, record_type, data)
                if found is not None:
                    logger.info("%s was created after all (record %s)", label, found.record_id)
                    return found
                if attempt == self.retry.attempts:
                    raise
                self._sleep_backoff(attempt, f"creating {label}")
                continue
            write = self._record_write(doc, response)
            if write.record_id:
                return write
            # Accepted, but the answer did not name the record: find it by its fresh value.
            found = self._find_created(domain, name, record_type, data)
            if found is not None:
                return RecordWrite(record_id=found.record_id, job=write.job or found.job)
            raise ServerError(
                f"The API accepted {label} but its answer did not name the record, and the "
                "record cannot be found; check the zone in Variomedia's customer menu.",
                status=response.status_code,
                method="POST",
                path="/dns-records",
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def find_record(
        self, domain: str, name: str, record_type: str, data: str
    ) -> RecordWrite | None:
        """The record with exactly this name, type and value, also while its job is pending
        (what a POST whose answer never arrived may have created); ``None`` if there is none."""
        name = to_ace(name) if name not in ("", "@") else ""
        return self._find_created(to_ace(domain), name, record_type.upper(), data)

    def delete_record(self, record_id: str) -> RecordWrite:
        """Delete one record by id; a record that is already gone is success, not an error."""
        path = _record_path(record_id)
        try:
            doc, response = self._request("DELETE", path)
        except NotFoundError:
            return RecordWrite(record_id=str(record_id), job=None, already_gone=True)
        return self._record_write(doc, response, record_id=str(record_id))

    def _record_write(
        self, doc: jsonapi.Document | None, response: requests.Response, record_id: str = ""
    ) -> RecordWrite:
        """Record id from ``links["dns-record"]`` (``""`` if absent) and the job of a write."""
        if doc is not None and doc.data:
            link = doc.data[0].links.get("dns-record") or doc.data[0].links.get("object")
            if link and is_record_id(last_segment(link)):
                record_id = last_segment(link)
        return RecordWrite(record_id=record_id, job=self._job_of(doc, response))

    def _find_created(
        self, domain: str, name: str, record_type: str, data: str
    ) -> RecordWrite | None:
        """The record a lost POST may have made: same domain, name, type and value.

        The value of an ACME challenge is random and fresh, so a record carrying it can only
        be the one this POST created. Records whose job is still pending are found through the
        pending-job list as well, in case the API lists records only once their job is done.
        """
        fqdn = f"{name}.{domain}" if name else domain

        def matches(r: DNSRecord) -> bool:
            return r.record_type == record_type and r.fqdn == fqdn and r.data == data

        known: set[str] = set()
        for record in self.list_records(domains=[domain]):
            known.add(record.id)
            if matches(record) and is_record_id(record.id):
                return RecordWrite(record_id=record.id, job=None)
        for job in self.list_pending_jobs():
            if not job.object_url or "/dns-records/" not in job.object_url:
                continue
            candidate = last_segment(job.object_url)
            if candidate in known or not is_record_id(candidate):
                continue
            try:
                record = self.get_record(candidate)
            except NotFoundError:
                continue
            if matches(record):
                return RecordWrite(record_id=record.id, job=job)
        return None

    # -- queue jobs ------------------------------------------------------------------------

    def list_pending_jobs(self) -> list[QueueJob]:
        """Jobs still pending (the API lists no others; done jobs vanish after 24 h)."""
        return [job_from(r) for r in self._list("/queue-jobs")]

    def get_job(self, job_id: str) -> QueueJob:
        path = f"/queue-jobs/{quote(str(job_id), safe='')}"
        try:
            return job_from(self._get_one(path))
        except NotFoundError:
            # Done jobs are deleted after a day; a job we cannot find any more is not pending.
            return QueueJob(id=str(job_id), status="done")

    def wait_for_jobs(
        self,
        jobs: Iterable[QueueJob],
        *,
        timeout: float,
        interval: float = 2.0,
        on_poll: Callable[[int, int], None] | None = None,
    ) -> None:
        """Block until every job is ``done``, with as few requests as possible.

        One ``GET /queue-jobs`` tells which of many jobs are still pending; only jobs that left
        that list are fetched one by one, once, to learn whether they ended ``done``. A single
        outstanding job is fetched directly. Raises `JobError` naming a failed job, or one
        still pending when `timeout` seconds are over.
        """
        waiting = {job.id: job for job in jobs if not job.done}
        for job in list(waiting.values()):
            self._raise_if_failed(job)
        deadline = self.clock.monotonic() + timeout
        total = len(waiting)
        pause = interval
        while waiting:
            if on_poll is not None:
                on_poll(total - len(waiting), total)
            if len(waiting) == 1:
                job = self.get_job(next(iter(waiting)))
                left = {job.id} if job.pending else set()
                if not job.pending:
                    self._raise_if_failed(job)
            else:
                pending = {job.id for job in self.list_pending_jobs()}
                left = set()
                for job_id in list(waiting):
                    if job_id in pending:
                        left.add(job_id)
                        continue
                    self._raise_if_failed(self.get_job(job_id))
            waiting = {k: v for k, v in waiting.items() if k in left}
            if not waiting:
                break
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                ids = ", ".join(sorted(waiting))
                raise JobError(
                    f"Variomedia's queue job(s) {ids} were still pending after {timeout:.0f} s. "
                    "The API may be busy; try again later, or check the job in the customer menu.",
                    job_id=sorted(waiting)[0],
                    status="pending",
                )
            self.clock.sleep(min(pause, remaining))
            pause = min(pause * 2, 30.0)
        if on_poll is not None:
            on_poll(total, total)

    @staticmethod
    def _raise_if_failed(job: QueueJob) -> None:
        if not job.pending and not job.done:
            raise JobError(
                f"Variomedia's queue job {job.id} ended with status {job.status!r} instead of "
                "'done'; the change did not happen. Check the record in the customer menu and "
                "try again; contact Variomedia support if it keeps failing.",
                job_id=job.id,
                status=job.status,
            )

    def _job_of(self, doc: jsonapi.Document | None, response: requests.Response) -> QueueJob | None:
        """The queue job of a write: from the body, else from ``Content-Location``."""
        location = response.headers.get("Content-Location")
        if doc is not None and doc.data and doc.data[0].type == "queue-job":
            return job_from(doc.data[0], fallback_url=location)
        if location and "/queue-jobs/" in location:
            return QueueJob(id=last_segment(location), status="pending")
        return None


def _record_path(record_id: str) -> str:
    """The URL path of a record; an id of any other form never reaches a URL."""
    if not is_record_id(record_id):
        raise ConfigurationError(
            f"{record_id!r} is not a record id: ids are letters, digits, '-' and '_' "
            "(Variomedia's are numbers, as 'variomedia-dns records list' shows them)."
        )
    return f"/dns-records/{record_id}"
