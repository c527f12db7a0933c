"""JSON:API in and out for the Variomedia simulator: the documents it answers with (shaped
like the real API's answers as other clients recorded them) and the checks of the bodies it
receives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from .config import SimConfig, to_ace
from .state import (
    ApiError,
    DomainSnapshot,
    ErrorItem,
    JobSnapshot,
    NewRecord,
    RecordSnapshot,
)

__all__ = ["Documents", "parse_domain_changes", "parse_new_record"]

_MISSING = "Missing data for required field."
_FIXED_DATE_CREATED = "2019-03-06T10:00:00Z"
_FIXED_DATE_EXPIRES = "2030-03-06T10:00:00Z"


class Documents:
    """JSON:API documents shaped like the real API's, plus the configured variants."""

    def __init__(self, base_url: str, config: SimConfig) -> None:
        self._base = base_url
        self._config = config

    def url(self, path: str) -> str:
        return self._base + path

    def record(self, record: RecordSnapshot) -> dict[str, Any]:
        name = self._name
        return self._extended(
            {
                "id": record.id,
                "type": "dns-record",
                "links": {"self": self.url(f"/dns-records/{record.id}")},
                "attributes": {
                    "record_type": record.record_type,
                    "fqdn": name(record.fqdn),
                    "fqdn_ace": name(record.fqdn_ace),
                    "name": name(record.name),
                    "name_ace": name(record.name_ace),
                    "domain": name(record.domain),
                    "data": record.data,
                    "ttl": record.ttl,
                    "tags": list(record.tags),
                },
            }
        )

    def job(self, job: JobSnapshot) -> dict[str, Any]:
        return self._extended(
            {
                "id": job.id,
                "type": "queue-job",
                "links": {
                    "self": self.url(f"/queue-jobs/{job.id}"),
                    "object": self.url(job.object_path),
                },
                "attributes": {"job_type": job.job_type, "status": job.status},
                "relationships": {
                    "owner": {"data": {"id": self._config.customer_id, "type": "customer"}}
                },
            }
        )

    def domain(self, domain: DomainSnapshot, *, minimal: bool = False) -> dict[str, Any]:
        presence: dict[str, Any] | None = None
        if domain.presence:
            presence = {"created_at": _FIXED_DATE_CREATED}
            if not minimal:
                presence["dns_update_lock"] = domain.update_lock
                presence["dns_migration_mode"] = {"enabled": domain.migration_mode}
        registration = (
            {"created_at": _FIXED_DATE_CREATED, "expires_at": _FIXED_DATE_EXPIRES}
            if domain.registered
            else None
        )
        return self._extended(
            {
                "id": self._name(domain.name),
                "type": "domain",
                "links": {"self": self.url(self.domain_path(domain))},
                "attributes": {
                    "name": self._name(domain.name),
                    "name_ace": self._name(domain.ace),
                    "registration": registration,
                    "presence": presence,
                },
                "relationships": {
                    "owner": {"data": {"id": self._config.customer_id, "type": "customer"}},
                    "package": {"data": {"id": domain.package_id, "type": "package"}},
                },
            }
        )

    @staticmethod
    def domain_path(domain: DomainSnapshot) -> str:
        return "/domains/" + quote(domain.name)

    def created(self, job: JobSnapshot, record: RecordSnapshot) -> dict[str, Any]:
        """The answer to POST /dns-records: a queue-job document (POST_dns_records.json)."""
        links = {"dns-record": self.url(f"/dns-records/{record.id}")}
        if self._config.job_link != "header":
            links = {"queue-job": self.url(f"/queue-jobs/{job.id}"), **links}
        data = {"type": "queue-job", "id": job.id, "attributes": {"status": job.status}}
        return {"data": {**data, "links": links}, "links": {"self": self.url("/dns-records")}}

    def deleted(self, job: JobSnapshot, record: RecordSnapshot) -> dict[str, Any]:
        """The answer to DELETE: pending (DELETE_dns_records_pending.json) or done (…_done)."""
        if self._config.delete_answer == "done":
            return {"data": self.job(job), "links": {"self": self.url(f"/queue-jobs/{job.id}")}}
        links = {}
        if self._config.job_link != "header":
            links = {"queue-job": self.url(f"/queue-jobs/{job.id}")}
        data = {"id": job.id, "type": "queue-job", "attributes": {"status": job.status}}
        return {
            "data": {**data, "links": links},
            "links": {"self": self.url(f"/dns-records/{record.id}")},
        }

    def errors(self, items: Sequence[ErrorItem], status: int, path: str) -> dict[str, Any]:
        rendered = []
        for item in items:
            error: dict[str, Any] = {"status": str(status), "title": item.title, "id": item.code}
            if item.detail is not None:
                error["detail"] = item.detail
            if item.pointer is not None:
                error["source"] = {"pointer": item.pointer}
            elif item.parameter is not None:
                error["source"] = {"parameter": item.parameter}
            rendered.append(error)
        return {"errors": rendered, "links": {"self": self.url(path)}}

    def _name(self, name: str) -> str:
        return name.upper() if self._config.capital_names else name

    def _extended(self, resource: dict[str, Any]) -> dict[str, Any]:
        """With `extra_attributes`, members no client knows yet, as a newer API may send."""
        if self._config.extra_attributes:
            resource["attributes"]["sim_unknown_attribute"] = {"added": "later", "items": [1]}
            resource["meta"] = {"sim_unknown_meta": True}
        return resource


def _data_object(body: Any, kind: str) -> dict[str, Any]:
    """`data` of a write body, checked to be an object of type `kind`."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise ApiError.invalid(("/data", "A data object is required."))
    if data.get("type") != kind:
        raise ApiError.invalid(("/data/type", f"Must be '{kind}'."))
    return data


def parse_new_record(body: Any) -> NewRecord:
    """The attributes of POST /dns-records, every type problem reported at once."""
    data = _data_object(body, "dns-record")
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise ApiError.invalid(("/data/attributes", _MISSING))
    problems: list[tuple[str, str]] = []
    for key in ("record_type", "name", "domain", "data"):
        value = attributes.get(key)
        if value is None:
            problems.append((f"/data/attributes/{key}", _MISSING))
        elif not isinstance(value, str):
            problems.append((f"/data/attributes/{key}", "Not a valid string."))
    ttl = attributes.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
        problems.append(("/data/attributes/ttl", "Not a valid integer."))
    if problems:
        raise ApiError.invalid(*problems)
    return NewRecord(
        attributes["record_type"], attributes["name"], attributes["domain"], attributes["data"], ttl
    )


def parse_domain_changes(body: Any, name: str) -> tuple[bool | None, bool | None]:
    """(dns_update_lock, dns_migration_mode.enabled) of a PATCH /domains body."""
    data = _data_object(body, "domain")
    ident = data.get("id")
    if not isinstance(ident, str):
        raise ApiError.invalid(("/data/id", _MISSING))
    try:
        same = to_ace(ident) == to_ace(name)
    except ValueError:
        same = False
    if not same:
        raise ApiError.invalid(("/data/id", f"Must be the domain of the URL, '{name}'."))
    attributes = data.get("attributes")
    if not isinstance(attributes, dict) or not isinstance(attributes.get("presence"), dict):
        raise ApiError.invalid(("/data/attributes/presence", _MISSING))
    presence = attributes["presence"]
    problems = [
        (f"/data/attributes/{key}", "Unknown field.") for key in attributes if key != "presence"
    ]
    problems += [
        (f"/data/attributes/presence/{key}", "Unknown field.")
        for key in presence
        if key not in ("dns_update_lock", "dns_migration_mode")
    ]
    lock = presence.get("dns_update_lock")
    if "dns_update_lock" in presence and not isinstance(lock, bool):
        problems.append(("/data/attributes/presence/dns_update_lock", "Not a valid boolean."))
    migration = presence.get("dns_migration_mode")
    enabled = migration.get("enabled") if isinstance(migration, dict) else None
    if "dns_migration_mode" in presence and not isinstance(enabled, bool):
        pointer = "/data/attributes/presence/dns_migration_mode/enabled"
        problems.append((pointer, "Not a valid boolean."))
    if not problems and lock is None and enabled is None:
        problems.append(("/data/attributes/presence", "Nothing to change."))
    if problems:
        raise ApiError.invalid(*problems)
    return lock, enabled
