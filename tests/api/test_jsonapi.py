"""JSON:API parsing: the shapes the Variomedia API sends, and what must not break it."""

from __future__ import annotations

import json

import pytest

from certbot_dns_variomedia.api import jsonapi

POST_ANSWER = {
    "data": {
        "type": "queue-job",
        "id": "18181818",
        "attributes": {"status": "pending"},
        "links": {
            "queue-job": "https://api.variomedia.de/queue-jobs/18181818",
            "dns-record": "https://api.variomedia.de/dns-records/19191919",
        },
    },
    "links": {"self": "https://api.variomedia.de/dns-records"},
}


def test_single_resource_with_links() -> None:
    doc = jsonapi.parse(json.dumps(POST_ANSWER))
    job = doc.single()
    assert (job.type, job.id, job.attr("status")) == ("queue-job", "18181818", "pending")
    assert job.links["dns-record"].endswith("/dns-records/19191919")
    assert not doc.is_collection


def test_collection_with_unknown_members_and_href_links() -> None:
    body = {
        "data": [
            {
                "type": "dns-record",
                "id": 1,
                "attributes": {"record_type": "TXT", "tags": ["base"], "brand_new": {"x": 1}},
            }
        ],
        "links": {"next": {"href": "https://api.variomedia.de/dns-records?page[number]=2"}},
        "meta": {"pagination": {"page": 1, "pages": 2}},
        "jsonapi": {"version": "1.0"},
    }
    doc = jsonapi.parse(json.dumps(body).encode())
    assert doc.is_collection
    assert doc.data[0].id == "1"
    assert doc.links["next"].endswith("page[number]=2")
    assert doc.meta["pagination"]["pages"] == 2


def test_errors_are_described_with_their_pointer() -> None:
    body = {
        "errors": [
            {
                "id": "invalid_api_data",
                "status": "422",
                "detail": "Not ACE-encodable.",
                "source": {"pointer": "/data/attributes/name"},
            }
        ]
    }
    [error] = jsonapi.parse(json.dumps(body)).errors
    assert error.describe() == "Not ACE-encodable. (at /data/attributes/name)"
    assert error.status == "422"


@pytest.mark.parametrize(
    "body",
    [b"<html><body>502 Bad Gateway</body></html>", b'{"data": {"type": "x", "id', b"[]", b"{}"],
)
def test_what_is_not_a_document(body: bytes) -> None:
    with pytest.raises(jsonapi.MalformedDocument):
        jsonapi.parse(body)


def test_single_on_a_collection_is_refused() -> None:
    doc = jsonapi.parse(json.dumps({"data": []}))
    with pytest.raises(jsonapi.MalformedDocument):
        doc.single()


def test_request_document() -> None:
    body = json.loads(jsonapi.document("domain", {"presence": {"dns_update_lock": True}}, "a.de"))
    assert body == {
        "data": {
            "type": "domain",
            "id": "a.de",
            "attributes": {"presence": {"dns_update_lock": True}},
        }
    }
