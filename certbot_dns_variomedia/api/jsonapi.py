"""JSON:API documents as the Variomedia API sends them, parsed once, here.

Only the members the project uses are kept; unknown attributes and members are ignored so that
backward-compatible additions (``tags`` in 2023, pagination in 2025) never break the client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class MalformedDocument(ValueError):
    """The body is not a JSON:API document (an HTML error page, truncated JSON, ...)."""


@dataclass(frozen=True)
class Resource:
    """One resource object: ``type``, ``id``, ``attributes`` and ``links`` (as plain URLs)."""

    type: str
    id: str | None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    relationships: Mapping[str, Any] = field(default_factory=dict)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(name, default)


@dataclass(frozen=True)
class ErrorObject:
    """One entry of a JSON:API ``errors`` array."""

    status: str | None = None
    id: str | None = None
    code: str | None = None
    title: str | None = None
    detail: str | None = None
    pointer: str | None = None

    def describe(self) -> str:
        """The most specific human text the API gave, with the field it concerns."""
        text = self.detail or self.title or self.code or self.id or "no details given"
        return f"{text} (at {self.pointer})" if self.pointer else text


@dataclass(frozen=True)
class Document:
    """A top-level document: primary data (always as a tuple), links, errors, meta."""

    data: tuple[Resource, ...] = ()
    is_collection: bool = False
    links: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[ErrorObject, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def single(self) -> Resource:
        """The one resource of a single-resource document."""
        if self.is_collection or len(self.data) != 1:
            raise MalformedDocument("expected one resource in 'data'")
        return self.data[0]


def _links(value: Any) -> Mapping[str, str]:
    """Links as ``name -> URL``; JSON:API allows a string or an object with ``href``."""
    if not isinstance(value, Mapping):
        return _EMPTY
    out: dict[str, str] = {}
    for name, link in value.items():
        if isinstance(link, str):
            out[str(name)] = link
        elif isinstance(link, Mapping) and isinstance(link.get("href"), str):
            out[str(name)] = link["href"]
    return MappingProxyType(out)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _frozen(value: Any) -> Mapping[str, Any]:
    return MappingProxyType(dict(value)) if isinstance(value, Mapping) else _EMPTY


def _resource(value: Any) -> Resource:
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        raise MalformedDocument("a resource object has no 'type'")
    return Resource(
        type=value["type"],
        id=_text(value.get("id")),
        attributes=_frozen(value.get("attributes")),
        links=_links(value.get("links")),
        relationships=_frozen(value.get("relationships")),
    )


def _error(value: Any) -> ErrorObject:
    if not isinstance(value, Mapping):
        return ErrorObject(detail=_text(value))
    source = value.get("source")
    pointer = source.get("pointer") if isinstance(source, Mapping) else None
    return ErrorObject(
        status=_text(value.get("status")),
        id=_text(value.get("id")),
        code=_text(value.get("code")),
        title=_text(value.get("title")),
        detail=_text(value.get("detail")),
        pointer=pointer if isinstance(pointer, str) else None,
    )


def parse(body: bytes | str) -> Document:
    """Parse a response body; raise `MalformedDocument` for anything that is not JSON:API."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        # RecursionError: nesting deeper than Python's stack (a broken or hostile body).
        raise MalformedDocument(f"not JSON ({e.__class__.__name__})") from None
    if not isinstance(raw, Mapping):
        raise MalformedDocument("the top level is not an object")
    errors = raw.get("errors")
    data = raw.get("data")
    if data is None and errors is None and "meta" not in raw:
        raise MalformedDocument("neither 'data' nor 'errors' present")
    if isinstance(data, list):
        resources, is_collection = tuple(_resource(item) for item in data), True
    elif data is None:
        resources, is_collection = (), False
    else:
        resources, is_collection = (_resource(data),), False
    return Document(
        data=resources,
        is_collection=is_collection,
        links=_links(raw.get("links")),
        errors=tuple(_error(e) for e in errors) if isinstance(errors, list) else (),
        meta=_frozen(raw.get("meta")),
    )


def document(
    resource_type: str, attributes: Mapping[str, Any], resource_id: str | None = None
) -> bytes:
    """A request body with one resource, as the API expects for POST and PATCH."""
    data: dict[str, Any] = {"type": resource_type, "attributes": dict(attributes)}
    if resource_id is not None:
        data["id"] = resource_id
    return json.dumps({"data": data}, separators=(",", ":")).encode()
