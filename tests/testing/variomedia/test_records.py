"""DNS records over real HTTP: reading, filtering, pagination, creating with validation,
the answer variants, and deleting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest

from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    VariomediaSimulator,
)

from .conftest import Api, Launch, dig, error_of, txt

# -- DNS records: reading ---------------------------------------------------------------------


def test_default_base_records(sim: VariomediaSimulator, api: Api) -> None:
    records = api.get("/dns-records", params={"filter[domain]": "example.test"}).json()["data"]
    summary = sorted(
        (r["attributes"]["record_type"], r["attributes"]["name"], tuple(r["attributes"]["tags"]))
        for r in records
    )

    assert summary == [
        ("A", "", ("base",)),
        ("A", "www", ("base",)),
        ("MX", "", ("base",)),
        ("TXT", "", ("base",)),
        ("TXT", "vmd._domainkey", ("dkim",)),
    ]
    assert txt(dig(sim, 1, "example.test")) == ["v=spf1 include:_spf.variomedia.test ~all"]


def test_get_record_has_the_reference_shape(sim: VariomediaSimulator, api: Api) -> None:
    record = sim.add_record("example.test", "my-test-record", "TXT", "test", ttl=300)

    response = api.get(f"/dns-records/{record.id}")

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "id": record.id,
            "type": "dns-record",
            "links": {"self": f"{sim.url}/dns-records/{record.id}"},
            "attributes": {
                "record_type": "TXT",
                "fqdn": "my-test-record.example.test",
                "fqdn_ace": "my-test-record.example.test",
                "name": "my-test-record",
                "name_ace": "my-test-record",
                "domain": "example.test",
                "data": "test",
                "ttl": 300,
                "tags": ["custom"],
            },
        },
        "links": {"self": f"{sim.url}/dns-records/{record.id}"},
    }


def test_unknown_record_is_404_with_the_api_message(api: Api) -> None:
    response = api.get("/dns-records/999")

    assert response.status_code == 404
    assert error_of(response)["title"] == "DNS record with ID '999' not found."


def test_record_filters_or_within_and_across(sim: VariomediaSimulator, api: Api) -> None:
    def domains(params: dict[str, str | list[str]]) -> set[str]:
        data = api.get("/dns-records", params=params).json()["data"]
        return {r["attributes"]["domain"] for r in data}

    assert domains({"filter[domain]": "example.test,OTHER.test"}) == {"example.test", "other.test"}
    assert domains({"filter[domain]": ["example.test", "other.test"]}) == {
        "example.test",
        "other.test",
    }
    assert domains({"filter[domain]": "example.test,other.test", "filter[package_id]": "2"}) == {
        "other.test"
    }
    assert domains({"filter[domain]": "example.test", "filter[package_id]": "2"}) == set()
    assert domains({"filter[domain]": "unknown.test"}) == set()


def test_pagination_follows_next_and_keeps_filters(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    domains = [SimDomain(f"d{i}.test") for i in range(3)] + [SimDomain("skip.test", package_id="9")]
    sim = launch(SimConfig(rate_limit=None, domains=domains, page_size=6))
    api = connect(sim)

    first = api.get("/dns-records", params={"filter[package_id]": "1", "page[size]": "4"})
    pages = [first.json()]
    while "next" in pages[-1]["links"]:
        pages.append(api.get(pages[-1]["links"]["next"]).json())
    clamped = api.get("/dns-records", params={"page[size]": "100"}).json()
    beyond = api.get("/dns-records", params={"page[number]": "9"}).json()
    bad = api.get("/dns-records", params={"page[size]": "0"})

    assert [len(p["data"]) for p in pages] == [4, 4, 4, 3]
    ids = [r["id"] for p in pages for r in p["data"]]
    assert len(set(ids)) == 15
    assert {r["attributes"]["domain"] for p in pages for r in p["data"]} == {
        "d0.test",
        "d1.test",
        "d2.test",
    }
    assert pages[1]["links"]["self"] == (
        f"{sim.url}/dns-records?filter[package_id]=1&page[size]=4&page[number]=2"
    )
    assert pages[0]["meta"] == {"pagination": {"page": 1, "per_page": 4, "pages": 4, "total": 15}}
    assert len(clamped["data"]) == 6  # page[size] can only lower the server's page size
    assert beyond["data"] == []
    assert "next" not in beyond["links"]
    assert bad.status_code == 400


# -- DNS records: writing ---------------------------------------------------------------------


def test_post_answers_a_queue_job_like_the_reference(sim: VariomediaSimulator, api: Api) -> None:
    response = api.create("_acme-challenge", "ADw2sEd82DUgXcQ9hNBZThJs7zVJkR5v9JeSbAb9mZY", ttl=300)

    assert response.status_code == 202
    body = response.json()
    job_id = body["data"]["id"]
    record_url = body["data"]["links"]["dns-record"]
    assert body == {
        "data": {
            "type": "queue-job",
            "id": job_id,
            "attributes": {"status": "pending"},
            "links": {"queue-job": f"{sim.url}/queue-jobs/{job_id}", "dns-record": record_url},
        },
        "links": {"self": f"{sim.url}/dns-records"},
    }
    assert response.headers["Content-Location"] == f"{sim.url}/queue-jobs/{job_id}"
    record = api.get(record_url).json()["data"]["attributes"]
    assert record["fqdn"] == "_acme-challenge.example.test"
    assert record["ttl"] == 300


def test_post_defaults_and_normalization(sim: VariomediaSimulator, api: Api) -> None:
    apex_id, _ = api.create_ok("@", "apex-value")
    empty_id, _ = api.create_ok("", "also-apex", domain="other.test")
    cname_id, _ = api.create_ok("Alias", "target.example.org.", record_type="CNAME")
    dash_id, _ = api.create_ok("_acme-challenge.www", "-starts-with-dash")

    apex = api.get(f"/dns-records/{apex_id}").json()["data"]["attributes"]
    empty = api.get(f"/dns-records/{empty_id}").json()["data"]["attributes"]
    cname = api.get(f"/dns-records/{cname_id}").json()["data"]["attributes"]
    dash = api.get(f"/dns-records/{dash_id}").json()["data"]["attributes"]
    assert (apex["name"], apex["fqdn"], apex["ttl"]) == ("", "example.test", 3600)
    assert (empty["name"], empty["fqdn"]) == ("", "other.test")
    assert (cname["name"], cname["data"]) == ("alias", "target.example.org")
    assert dash["data"] == "-starts-with-dash"


def test_post_idn_names_carry_both_forms(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: FakeClock
) -> None:
    sim = launch(SimConfig(rate_limit=None, domains=[SimDomain("bücher.test")]), clock=clock)
    api = connect(sim)

    record_id, _ = api.create_ok("grüße", "hallo", domain="xn--bcher-kva.test")
    attributes = api.get(f"/dns-records/{record_id}").json()["data"]["attributes"]
    clock.advance(1)

    assert attributes["name"] == "grüsse"  # IDNA 2003 maps ß to ss
    assert attributes["name_ace"] == "xn--grsse-lva"
    assert attributes["fqdn"] == "grüsse.bücher.test"
    assert attributes["fqdn_ace"] == "xn--grsse-lva.xn--bcher-kva.test"
    assert attributes["domain"] == "bücher.test"
    assert txt(dig(sim, 0, "xn--grsse-lva.xn--bcher-kva.test")) == ["hallo"]


@pytest.mark.parametrize(
    ("attributes", "pointer", "title"),
    [
        ({"record_type": "NS"}, "/data/attributes/record_type",
         "Must be one of: A, AAAA, CNAME, MX, TXT, SRV, CAA."),
        ({"name": "bad name!"}, "/data/attributes/name", "Not ACE-encodable."),
        ({"name": "a..b"}, "/data/attributes/name", "Not ACE-encodable."),
        ({"name": "x" * 64}, "/data/attributes/name", "Not ACE-encodable."),
        ({"domain": "unknown.test"}, "/data/attributes/domain",
         "Domain 'unknown.test' is not a presence domain of this account."),
        ({"domain": "parked.test"}, "/data/attributes/domain",
         "Domain 'parked.test' is not a presence domain of this account."),
        ({"ttl": 299}, "/data/attributes/ttl", "Must be between 300 and 86400."),
        ({"ttl": 86401}, "/data/attributes/ttl", "Must be between 300 and 86400."),
        ({"ttl": "300"}, "/data/attributes/ttl", "Not a valid integer."),
        ({"ttl": True}, "/data/attributes/ttl", "Not a valid integer."),
        ({"data": ""}, "/data/attributes/data", "Must not be empty."),
        ({"record_type": "A", "data": "300.1.1.1"}, "/data/attributes/data",
         "Not a valid A record: '300.1.1.1'."),
        ({"record_type": "MX", "data": "mail.example.test"}, "/data/attributes/data",
         "Not a valid MX record: 'mail.example.test'."),
        ({"name": 7}, "/data/attributes/name", "Not a valid string."),
        ({"name": None}, "/data/attributes/name", "Missing data for required field."),
        ({"record_type": "CNAME", "name": "www", "data": "x.example.org"},
         "/data/attributes/name", "A CNAME record cannot share its name with other records."),
    ],
)  # fmt: skip
def test_post_validation(
    launch: Launch,
    connect: Callable[[VariomediaSimulator], Api],
    attributes: dict[str, Any],
    pointer: str,
    title: str,
) -> None:
    sim = launch(
        SimConfig(
            rate_limit=None,
            domains=[SimDomain("example.test"), SimDomain("parked.test", presence=False)],
        )
    )
    api = connect(sim)
    good = {"record_type": "TXT", "name": "_acme-challenge", "domain": "example.test", "data": "v"}
    merged = {k: v for k, v in {**good, **attributes}.items() if v is not None}

    response = api.post("/dns-records", {"data": {"type": "dns-record", "attributes": merged}})

    assert response.status_code == 422
    assert error_of(response) == {
        "status": "422",
        "id": "invalid_api_data",
        "title": title,
        "source": {"pointer": pointer},
    }
    assert all(r.source == "base" for r in sim.records())


def test_post_reports_every_problem_at_once(api: Api) -> None:
    response = api.post(
        "/dns-records",
        {"data": {"type": "dns-record", "attributes": {"record_type": "TXT", "ttl": 5}}},
    )

    pointers = [e["source"]["pointer"] for e in response.json()["errors"]]
    assert response.status_code == 422
    assert pointers == [
        "/data/attributes/name",
        "/data/attributes/domain",
        "/data/attributes/data",
    ]  # ttl is checked once the fields are there


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"data": {"type": "dns-records", "attributes": {}}}, "/data/type"),
        ({"data": []}, "/data"),
        ([], "/data"),
        ({"data": {"type": "dns-record"}}, "/data/attributes"),
    ],
)
def test_post_document_structure(api: Api, body: Any, pointer: str) -> None:
    response = api.post("/dns-records", body)

    assert response.status_code == 422
    assert error_of(response)["source"] == {"pointer": pointer}


def test_cname_blocks_other_records_at_its_name(sim: VariomediaSimulator, api: Api) -> None:
    sim.add_record("example.test", "_acme-challenge", "CNAME", "_acme-challenge.other.test")

    response = api.create("_acme-challenge", "value")

    assert response.status_code == 422
    assert error_of(response)["title"] == "This name already has a CNAME record."


@pytest.mark.parametrize("status", [200, 201, 202])
def test_post_status_variants(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], status: Literal[200, 201, 202]
) -> None:
    sim = launch(SimConfig(rate_limit=None, post_status=status))

    response = connect(sim).create("_acme-challenge", "v")

    assert response.status_code == status
    assert response.json()["data"]["type"] == "queue-job"


def test_job_link_only_in_body_or_only_in_header(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    body_only = connect(launch(SimConfig(rate_limit=None, job_link="body")))
    header_only = connect(launch(SimConfig(rate_limit=None, job_link="header")))

    in_body = body_only.create("_acme-challenge", "v")
    in_header = header_only.create("_acme-challenge", "v")
    deleted = header_only.delete(in_header.json()["data"]["links"]["dns-record"])

    assert "Content-Location" not in in_body.headers
    assert "queue-job" in in_body.json()["data"]["links"]
    assert "queue-job" not in in_header.json()["data"]["links"]
    assert "dns-record" in in_header.json()["data"]["links"]
    assert in_header.headers["Content-Location"].endswith(
        "/queue-jobs/" + in_header.json()["data"]["id"]
    )
    assert deleted.json()["data"]["links"] == {}
    assert "/queue-jobs/" in deleted.headers["Content-Location"]


def test_delete_answers_a_pending_job_like_the_reference(
    sim: VariomediaSimulator, api: Api
) -> None:
    record_id, _ = api.create_ok("_acme-challenge", "v")

    response = api.delete(f"/dns-records/{record_id}")
    again = api.delete(f"/dns-records/{record_id}")

    assert response.status_code == 202
    job_id = response.json()["data"]["id"]
    assert response.json() == {
        "data": {
            "id": job_id,
            "type": "queue-job",
            "attributes": {"status": "pending"},
            "links": {"queue-job": f"{sim.url}/queue-jobs/{job_id}"},
        },
        "links": {"self": f"{sim.url}/dns-records/{record_id}"},
    }
    assert response.headers["Content-Location"] == f"{sim.url}/queue-jobs/{job_id}"
    assert api.get(f"/dns-records/{record_id}").status_code == 404
    assert again.status_code == 404
    assert error_of(again)["title"] == f"DNS record with ID '{record_id}' not found."
    assert [r.deleted for r in sim.records() if r.id == record_id] == [True]


def test_delete_answering_done(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: FakeClock
) -> None:
    sim = launch(SimConfig(rate_limit=None, delete_answer="done"), clock=clock)
    api = connect(sim)
    record_id, _ = api.create_ok("_acme-challenge", "v")
    clock.advance(1)

    response = api.delete(f"/dns-records/{record_id}")

    assert response.status_code == 200
    job_id = response.json()["data"]["id"]
    assert response.json() == {
        "data": {
            "id": job_id,
            "type": "queue-job",
            "attributes": {"job_type": "dns-record", "status": "done"},
            "relationships": {"owner": {"data": {"id": "505050", "type": "customer"}}},
            "links": {
                "self": f"{sim.url}/queue-jobs/{job_id}",
                "object": f"{sim.url}/dns-records/{record_id}",
            },
        },
        "links": {"self": f"{sim.url}/queue-jobs/{job_id}"},
    }
    assert sim.visible(0, "_acme-challenge.example.test") == []


def test_dkim_record_cannot_be_deleted(sim: VariomediaSimulator, api: Api) -> None:
    (dkim,) = [r for r in sim.records("example.test") if "dkim" in r.tags]

    response = api.delete(f"/dns-records/{dkim.id}")

    assert response.status_code == 403
    assert "cannot be deleted" in error_of(response)["title"]
    assert api.get(f"/dns-records/{dkim.id}").status_code == 200


def test_capital_names_and_extra_attributes(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    sim = launch(SimConfig(rate_limit=None, capital_names=True, extra_attributes=True))
    api = connect(sim)
    record_id, job_id = api.create_ok("_acme-challenge", "MiXeD-value")

    record = api.get(f"/dns-records/{record_id}").json()["data"]
    job = api.get(f"/queue-jobs/{job_id}").json()["data"]
    domain = api.get("/domains").json()["data"][0]
    filtered = api.get("/dns-records", params={"filter[domain]": "example.test"}).json()["data"]

    assert record["attributes"]["fqdn"] == "_ACME-CHALLENGE.EXAMPLE.TEST"
    assert record["attributes"]["domain"] == "EXAMPLE.TEST"
    assert record["attributes"]["data"] == "MiXeD-value"  # values are never changed
    assert domain["id"] == "EXAMPLE.TEST"
    assert len(filtered) == 6
    for resource in (record, job, domain):
        assert "sim_unknown_attribute" in resource["attributes"]
        assert resource["meta"] == {"sim_unknown_meta": True}
