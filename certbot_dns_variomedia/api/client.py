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

import datetime
import email.utils
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests

from .. import __version__
from ..clock import SYSTEM_CLOCK, Clock
from ..credentials import DEFAULT_API_URL, VariomediaCredentials
from ..errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    JobError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from ..names import to_ace
from . import jsonapi
from .pacing import FileLedger, RequestPacer, default_ledger_path

logger = logging.getLogger(__name__)

ACCEPT = "application/vnd.variomedia.v1+json"
CONTENT_TYPE = "application/vnd.api+json"
USER_AGENT = (
    f"certbot-dns-variomedia/{__version__} "
    "(+https://github.com/certbot-dns-variomedia/certbot-dns-variomedia) "
    f"python-requests/{requests.__version__}"
)
DEFAULT_TIMEOUT = (10.0, 30.0)  # (connect, read) seconds
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")
_IDEMPOTENT = frozenset({"GET", "DELETE", "PATCH"})


@dataclass(frozen=True)
class RetryPolicy:
    """How long the client keeps trying before it gives up with a clear error."""

    attempts: int = 5  # per request
    backoff: float = 1.0  # first pause after a 5xx or network error; doubles each time
    max_backoff: float = 30.0
    max_retry_after: float = 300.0  # a longer Retry-After is reported, not waited out
    max_consecutive_failures: int = 8  # across requests: the API locks out noisy clients


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


def check_api_url(url: str) -> str:
    """The base URL without trailing slash; plain http only where nothing can listen in."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"The API URL {url!r} is not an http(s) URL; the Variomedia API is {DEFAULT_API_URL}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            f"The API URL {url!r} must not contain credentials, a query or a fragment."
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"The API URL {url!r} uses plain http:// to a host that is not this machine; "
            "the token would travel unencrypted. Use https://"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _last_segment(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def _retry_after(response: requests.Response, default: float) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), else `default`."""
    value = response.headers.get("Retry-After")
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    date = response.headers.get("Date")
    now = email.utils.parsedate_to_datetime(date) if date else None
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _related_id(resource: jsonapi.Resource, name: str) -> str | None:
    related = resource.relationships.get(name)
    data = related.get("data") if isinstance(related, Mapping) else None
    found = data.get("id") if isinstance(data, Mapping) else None
    return None if found is None else str(found)


def _domain(resource: jsonapi.Resource) -> Domain:
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


def _record(resource: jsonapi.Resource) -> DNSRecord:
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


def _job(resource: jsonapi.Resource, fallback_url: str | None = None) -> QueueJob:
    job_id = resource.id or _last_segment(
        resource.links.get("queue-job") or resource.links.get("self") or fallback_url or ""
    )
    return QueueJob(
        id=job_id,
        status=str(resource.attr("status") or "unknown").lower(),
        job_type=resource.attr("job_type"),
        object_url=resource.links.get("object") or resource.links.get("dns-record"),
    )


class VariomediaClient:
    """Typed access to the endpoints the project needs, paced and with bounded retries."""

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        token_source: str = "dns_variomedia_token in the credentials file",  # noqa: S107
        clock: Clock = SYSTEM_CLOCK,
        pacer: RequestPacer | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not token or not _TOKEN_RE.match(token):
            raise ConfigurationError(
                f"The API token ({token_source}) is empty or malformed: it should be one word "
                "of printable characters, exactly as Variomedia issued it."
            )
        self.base_url = check_api_url(api_url)
        self.token_source = token_source
        self.clock = clock
        self.pacer = pacer if pacer is not None else RequestPacer(clock=clock)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.requests_sent = 0  # every attempt that reached the wire, for tests and benchmarks
        self._failures_in_a_row = 0
        self._token = token
        self._session = session or requests.Session()
        self._session.headers.update(
            {"Accept": ACCEPT, "User-Agent": USER_AGENT, "Authorization": f"token {token}"}
        )

    @classmethod
    def from_credentials(
        cls, credentials: VariomediaCredentials, *, clock: Clock = SYSTEM_CLOCK
    ) -> VariomediaClient:
        """The client every front door uses: paced together with every other process of this
        user that talks to the same API host (they all share one IP's rate limit)."""
        base_url = check_api_url(credentials.api_url)
        ledger = FileLedger(default_ledger_path(urlsplit(base_url).netloc))
        return cls(
            credentials.token,
            base_url,
            token_source=credentials.source,
            clock=clock,
            pacer=RequestPacer(clock=clock, ledger=ledger),
        )

    def __repr__(self) -> str:
        return f"VariomediaClient(api_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> VariomediaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- domains ---------------------------------------------------------------------------

    def list_domains(self) -> list[Domain]:
        """Every domain of the account (``presence`` tells whether its DNS is hosted here)."""
        return [_domain(r) for r in self._list("/domains")]

    def get_domain(self, name: str) -> Domain:
        return _domain(self._get_one(f"/domains/{quote(to_ace(name), safe='')}"))

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
        return [_record(r) for r in self._list("/dns-records", params)]

    def get_record(self, record_id: str) -> DNSRecord:
        return _record(self._get_one(f"/dns-records/{quote(str(record_id), safe='')}"))

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
        path = f"/dns-records/{quote(str(record_id), safe='')}"
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
            if link:
                record_id = _last_segment(link)
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
            if matches(record):
                return RecordWrite(record_id=record.id, job=None)
        for job in self.list_pending_jobs():
            if not job.object_url or "/dns-records/" not in job.object_url:
                continue
            candidate = _last_segment(job.object_url)
            if candidate in known:
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
        return [_job(r) for r in self._list("/queue-jobs")]

    def get_job(self, job_id: str) -> QueueJob:
        path = f"/queue-jobs/{quote(str(job_id), safe='')}"
        try:
            return _job(self._get_one(path))
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
            return _job(doc.data[0], fallback_url=location)
        if location and "/queue-jobs/" in location:
            return QueueJob(id=_last_segment(location), status="pending")
        return None

    # -- transport ---------------------------------------------------------------------------

    def _list(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> Iterator[jsonapi.Resource]:
        """All resources of a list, following ``links.next`` until it is absent."""
        url: str | None = self.base_url + path
        seen: set[str] = set()
        query: Mapping[str, str] | None = params
        while url:
            doc, _ = self._request("GET", url, params=query)
            if doc is None:
                return
            yield from doc.data
            next_url = doc.links.get("next")
            if not next_url:
                return
            url = urljoin(url, next_url)
            if url in seen:
                raise ServerError(
                    f"The API's pagination loops back to {url}; stopping.", method="GET", path=path
                )
            seen.add(url)
            query = None  # the next link carries the filters itself

    def _get_one(self, path: str) -> jsonapi.Resource:
        doc, response = self._request("GET", path)
        if doc is None:
            raise ServerError(f"GET {path} answered {response.status_code} without a body.")
        try:
            return doc.single()
        except jsonapi.MalformedDocument as e:
            raise ServerError(f"GET {path}: the API's answer was not understood ({e}).") from None

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith("/"):
            return self.base_url + path_or_url
        base, target = urlsplit(self.base_url), urlsplit(path_or_url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            # A link to another host would carry our token there.
            raise ServerError(
                f"The API sent a link to another host ({target.scheme}://{target.netloc}); "
                "not following it."
            )
        return path_or_url

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[jsonapi.Document | None, requests.Response]:
        """One API call with pacing, retries where safe, and errors mapped for people."""
        url = self._url(path_or_url)
        shown = urlsplit(url).path
        headers = {"Content-Type": CONTENT_TYPE} if body is not None else {}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, url, params, body, headers)
            except NetworkError as e:
                if isinstance(e, _UntrustedCertificate):
                    raise  # a certificate does not get better by asking again
                self._note_failure(e)
                if method not in _IDEMPOTENT and e.unclear:
                    raise
                if attempt >= self.retry.attempts:
                    raise
                self._sleep_backoff(attempt, f"{method} {shown}")
                continue
            status = response.status_code
            if status == 429:
                wait = _retry_after(response, self._backoff(attempt))
                error = self._error(response, method, shown)
                self._note_failure(error)
                if wait > self.retry.max_retry_after or attempt >= self.retry.attempts:
                    raise RateLimitError(
                        f"The Variomedia API kept refusing requests for exceeding its rate limit "
                        f"(asked to wait {wait:.0f} s). Another program using the API from this "
                        "machine's address may be the cause; try again in a few minutes.",
                        status=429,
                        method=method,
                        path=shown,
                    )
                logger.info("Variomedia API rate limit reached; waiting %.1f s as asked", wait)
                self.pacer.pause(wait)
                continue  # 429: the request was not processed, so even a POST may be re-sent
            if status >= 500 or (200 <= status < 300 and not self._parsable(response)):
                error = self._error(response, method, shown, unclear=True)
                self._note_failure(error)
                if method not in _IDEMPOTENT or attempt >= self.retry.attempts:
                    raise error
                self._sleep_backoff(attempt, f"{method} {shown}")
                continue
            if status >= 400:
                error = self._error(response, method, shown)
                if not isinstance(error, NotFoundError):
                    self._note_failure(error)
                raise error
            self._failures_in_a_row = 0
            if not response.content:
                return None, response
            return jsonapi.parse(response.content), response

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> requests.Response:
        shown = urlsplit(url).path
        with self.pacer.slot():
            self.requests_sent += 1
            started = self.clock.monotonic()
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as e:
                if (reason := _certificate_problem(e)) is not None:
                    raise _UntrustedCertificate(
                        f"The Variomedia API at {self.base_url} presented an HTTPS certificate "
                        f"that cannot be trusted ({reason}); nothing was sent. Check "
                        "dns_variomedia_api_url; if the API really uses a private CA, give its "
                        "certificate in REQUESTS_CA_BUNDLE. Verification is never switched off.",
                        method=method,
                        path=shown,
                    ) from None
                raise NetworkError(
                    f"No answer from the Variomedia API at {self.base_url} ({_reason(e)}). "
                    "Check the network connection and dns_variomedia_api_url.",
                    method=method,
                    path=shown,
                    unclear=not isinstance(e, requests.ConnectTimeout) and not _refused(e),
                ) from None
        logger.debug(
            "%s %s -> %s (%d bytes, %.0f ms)",
            method,
            shown,
            response.status_code,
            len(response.content),
            (self.clock.monotonic() - started) * 1000,
        )
        return response

    @staticmethod
    def _parsable(response: requests.Response) -> bool:
        if not response.content:
            return True
        try:
            jsonapi.parse(response.content)
        except jsonapi.MalformedDocument:
            return False
        return True

    def _error(
        self, response: requests.Response, method: str, path: str, *, unclear: bool = False
    ) -> APIError:
        """An exception for a failed answer, with a message that says what to do."""
        status = response.status_code
        try:
            errors = jsonapi.parse(response.content).errors
        except jsonapi.MalformedDocument:
            errors = ()
        first = errors[0] if errors else None
        detail = "; ".join(e.describe() for e in errors) if errors else ""
        error_id = first.id if first else None
        where = f"{method} {path}"
        kwargs: dict[str, Any] = {
            "status": status,
            "error_id": error_id,
            "method": method,
            "path": path,
            "unclear": unclear,
        }
        if 200 <= status < 300 or (status >= 500 and not errors):
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            what = "an HTML page" if "html" in kind else f"a body that is not JSON:API ({kind})"
            return ServerError(
                f"The Variomedia API answered {where} with status {status} and {what}. "
                "It may be having problems; try again later.",
                **kwargs,
            )
        if status == 401:
            return AuthenticationError(
                f"The API token was refused (401 on {where}): check {self.token_source}. "
                "A token stops working when its contact is deleted; Variomedia support "
                "issues new ones.",
                **kwargs,
            )
        if status == 403:
            return AuthenticationError(
                f"The API refused {where} (403: {detail or 'forbidden'}). The token may not be "
                "enabled for this, or the API has locked this address after too many errors; "
                "wait a while, and check the token with Variomedia support.",
                **kwargs,
            )
        if status == 404:
            return NotFoundError(f"Not found: {where} ({detail or 'no details'}).", **kwargs)
        if status == 429:
            return RateLimitError(f"Rate limit reached on {where}.", **kwargs)
        if status >= 500:
            return ServerError(
                f"The Variomedia API failed on {where} ({status}: {detail}). "
                "Try again later; if it persists, contact Variomedia support.",
                **kwargs,
            )
        return ValidationError(
            f"The Variomedia API rejected {where} ({status}: {detail or 'no details given'}).",
            **kwargs,
        )

    def _note_failure(self, error: APIError) -> None:
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= self.retry.max_consecutive_failures:
            self._failures_in_a_row = 0
            raise type(error)(
                f"{error} Giving up after {self.retry.max_consecutive_failures} failed requests "
                "in a row, so that the API does not lock this address out.",
                status=error.status,
                error_id=error.error_id,
                method=error.method,
                path=error.path,
                unclear=error.unclear,
            ) from None

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retry.backoff * 2 ** (attempt - 1), self.retry.max_backoff))

    def _sleep_backoff(self, attempt: int, what: str) -> None:
        pause = self._backoff(attempt)
        logger.info("Retrying %s in %.1f s (attempt %d failed)", what, pause, attempt)
        self.clock.sleep(pause)


class _UntrustedCertificate(NetworkError):
    """The TLS handshake failed the certificate check: the request never left this host."""


_VERIFY_FAILED = re.compile(r"certificate verify failed: (.+?)\.? \(_ssl")


def _certificate_problem(e: requests.RequestException) -> str | None:
    """What the certificate check said (``None``: the error was not about the certificate)."""
    text = str(e)
    if not isinstance(e, requests.exceptions.SSLError) or "certificate verify failed" not in text:
        return None
    found = _VERIFY_FAILED.search(text)
    return found.group(1) if found else "certificate verify failed"


def _refused(e: requests.RequestException) -> bool:
    """A connection that was never made: the request surely did not arrive."""
    if not isinstance(e, requests.ConnectionError):
        return False
    text = repr(e.args[0]) if e.args else ""
    return "NewConnectionError" in text or "NameResolutionError" in text


def _reason(e: requests.RequestException) -> str:
    if isinstance(e, requests.Timeout):
        return "timed out"
    if _refused(e):
        return "connection refused or host not found"
    if isinstance(e, requests.ConnectionError):
        return "connection broken before the answer arrived"
    return e.__class__.__name__
