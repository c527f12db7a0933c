"""Domains over real HTTP: listing, filters, IDN names, PATCH and its variants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    VariomediaSimulator,
)

from .conftest import Api, Launch, dig, error_of


def test_domain_list_and_filters(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    sim = launch(
        SimConfig(
            rate_limit=None,
            domains=[
                SimDomain("example.test"),
                SimDomain("other.test", package_id="2"),
                SimDomain("parked.test", presence=False, package_id="3"),
                SimDomain("external.test", registered=False, package_id="3"),
            ],
        )
    )
    api = connect(sim)

    def names(**params: str | list[str]) -> list[str]:
        response = api.get("/domains", params=params)
        assert response.status_code == 200
        return [d["id"] for d in response.json()["data"]]

    everything = api.get("/domains").json()["data"]
    by_id = {d["id"]: d["attributes"] for d in everything}

    assert [d["id"] for d in everything] == [
        "example.test",
        "other.test",
        "parked.test",
        "external.test",
    ]
    assert by_id["parked.test"]["presence"] is None
    assert by_id["external.test"]["registration"] is None
    assert by_id["example.test"]["presence"]["dns_update_lock"] is False
    assert by_id["example.test"]["presence"]["dns_migration_mode"] == {"enabled": False}
    assert everything[0]["relationships"]["owner"]["data"] == {"id": "505050", "type": "customer"}
    assert names(**{"filter[package_id]": "2,3"}) == ["other.test", "parked.test", "external.test"]
    assert names(**{"filter[package_id]": ["1", "2"]}) == ["example.test", "other.test"]
    assert names(**{"filter[owner_id]": "505050", "filter[package_id]": "1"}) == ["example.test"]
    assert names(**{"filter[owner_id]": "1"}) == []


def test_get_domain_by_unicode_or_ace_name(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    sim = launch(SimConfig(rate_limit=None, domains=[SimDomain("Bücher.test")]))
    api = connect(sim)

    by_unicode = api.get("/domains/bücher.test")
    by_ace = api.get("/domains/XN--BCHER-KVA.test")
    missing = api.get("/domains/nope.test")

    assert by_unicode.status_code == by_ace.status_code == 200
    assert by_unicode.json()["data"]["attributes"]["name_ace"] == "xn--bcher-kva.test"
    assert by_ace.json()["data"]["id"] == "bücher.test"
    assert missing.status_code == 404
    assert error_of(missing) == {
        "status": "404",
        "id": "resource_not_found",
        "title": "Domain with ID 'nope.test' not found.",
    }


def patch_body(name: str, presence: dict[str, Any], kind: str = "domain") -> dict[str, Any]:
    return {"data": {"id": name, "type": kind, "attributes": {"presence": presence}}}


def test_patch_switches_update_lock_and_migration_mode(sim: VariomediaSimulator, api: Api) -> None:
    locked = api.patch(
        "/domains/example.test", patch_body("example.test", {"dns_update_lock": True})
    )
    migrating = api.patch(
        "/domains/example.test",
        patch_body("example.test", {"dns_migration_mode": {"enabled": True}}),
    )

    assert locked.status_code == 200
    assert locked.json()["data"]["attributes"]["presence"]["dns_update_lock"] is True
    presence = api.get("/domains/example.test").json()["data"]["attributes"]["presence"]
    assert presence["dns_update_lock"] is True
    assert presence["dns_migration_mode"] == {"enabled": True}
    assert migrating.json()["data"]["attributes"]["presence"]["dns_update_lock"] is True
    served = dig(sim, 0, "www.example.test", "A").answer[0]
    assert served.ttl == 300  # migration mode serves every record with TTL 300
    assert dig(sim, 0, "www.other.test", "A").answer[0].ttl == 3600


@pytest.mark.parametrize(
    ("url_name", "body", "pointer"),
    [
        ("example.test", patch_body("other.test", {"dns_update_lock": True}), "/data/id"),
        ("example.test", patch_body("example.test", {"dns_update_lock": True}, "domains"),
         "/data/type"),
        ("example.test", patch_body("example.test", {"dns_update_lock": "yes"}),
         "/data/attributes/presence/dns_update_lock"),
        ("example.test", patch_body("example.test", {"dns_migration_mode": True}),
         "/data/attributes/presence/dns_migration_mode/enabled"),
        ("example.test", patch_body("example.test", {"ssl": True}),
         "/data/attributes/presence/ssl"),
        ("example.test", patch_body("example.test", {}), "/data/attributes/presence"),
        ("example.test", {"data": {"id": "example.test", "type": "domain"}},
         "/data/attributes/presence"),
        ("parked.test", patch_body("parked.test", {"dns_update_lock": True}),
         "/data/attributes/presence"),
    ],
    ids=["id-mismatch", "type", "lock-not-bool", "migration-not-object", "unknown-field",
         "nothing", "no-attributes", "no-presence"],
)  # fmt: skip
def test_patch_validation(
    launch: Launch,
    connect: Callable[[VariomediaSimulator], Api],
    url_name: str,
    body: dict[str, Any],
    pointer: str,
) -> None:
    sim = launch(
        SimConfig(
            rate_limit=None,
            domains=[SimDomain("example.test"), SimDomain("parked.test", presence=False)],
        )
    )
    response = connect(sim).patch(f"/domains/{url_name}", body)

    assert response.status_code == 422
    error = error_of(response)
    assert error["id"] == "invalid_api_data"
    assert error["source"] == {"pointer": pointer}


def test_patch_unknown_domain_is_404(api: Api) -> None:
    response = api.patch("/domains/nope.test", patch_body("nope.test", {"dns_update_lock": True}))

    assert response.status_code == 404


def test_patch_answering_with_a_job(
    launch: Launch, clock: FakeClock, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    sim = launch(SimConfig(rate_limit=None, patch_answer="job"), clock=clock)
    api = connect(sim)

    response = api.patch(
        "/domains/example.test", patch_body("example.test", {"dns_update_lock": True})
    )

    assert response.status_code == 202
    job = response.json()["data"]
    assert job["type"] == "queue-job"
    assert job["attributes"] == {"job_type": "domain", "status": "pending"}
    assert job["links"]["object"] == sim.url + "/domains/example.test"
    assert response.headers["Content-Location"] == job["links"]["self"]
    assert sim.domains()[0].update_lock is True
    clock.advance(0.2)
    assert api.get(job["links"]["self"]).json()["data"]["attributes"]["status"] == "done"


def test_minimal_presence_in_the_list_only(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    sim = launch(SimConfig(rate_limit=None, domain_list_presence="minimal"))
    api = connect(sim)

    listed = api.get("/domains").json()["data"][0]["attributes"]["presence"]
    single = api.get("/domains/example.test").json()["data"]["attributes"]["presence"]

    assert listed is not None
    assert "dns_update_lock" not in listed
    assert single["dns_update_lock"] is False
