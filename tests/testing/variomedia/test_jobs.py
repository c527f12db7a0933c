"""Queue jobs over real HTTP: pending until the job delay, then done, then gone."""

from __future__ import annotations

from collections.abc import Callable

from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.variomedia.simulator import SimConfig, VariomediaSimulator

from .conftest import Api, Launch, error_of


def test_job_is_pending_until_job_delay_then_done(
    sim: VariomediaSimulator, api: Api, clock: FakeClock
) -> None:
    record_id, job_id = api.create_ok("_acme-challenge", "v")

    pending = api.get(f"/queue-jobs/{job_id}").json()
    listed = [j["id"] for j in api.get("/queue-jobs").json()["data"]]
    clock.advance(0.19)
    still = api.get(f"/queue-jobs/{job_id}").json()["data"]["attributes"]["status"]
    clock.advance(0.01)
    done = api.get(f"/queue-jobs/{job_id}").json()["data"]["attributes"]["status"]
    listed_after = api.get("/queue-jobs").json()["data"]

    assert pending == {
        "data": {
            "id": job_id,
            "type": "queue-job",
            "links": {
                "self": f"{sim.url}/queue-jobs/{job_id}",
                "object": f"{sim.url}/dns-records/{record_id}",
            },
            "attributes": {"job_type": "dns-record", "status": "pending"},
            "relationships": {"owner": {"data": {"id": "505050", "type": "customer"}}},
        },
        "links": {"self": f"{sim.url}/queue-jobs/{job_id}"},
    }
    assert listed == [job_id]
    assert still == "pending"
    assert done == "done"
    assert listed_after == []


def test_finished_jobs_vanish_after_24_hours(api: Api, clock: FakeClock) -> None:
    _, job_id = api.create_ok("_acme-challenge", "v")

    clock.advance(24 * 3600)
    kept = api.get(f"/queue-jobs/{job_id}")
    clock.advance(1)
    gone = api.get(f"/queue-jobs/{job_id}")

    assert kept.status_code == 200
    assert gone.status_code == 404
    assert error_of(gone)["title"] == f"Queue job with ID '{job_id}' not found."


def test_pending_job_list_is_paginated(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: FakeClock
) -> None:
    sim = launch(SimConfig(rate_limit=None, page_size=2), clock=clock)
    api = connect(sim)
    job_ids = [api.create_ok(f"r{i}", "v")[1] for i in range(5)]

    first = api.get("/queue-jobs").json()
    second = api.get(first["links"]["next"]).json()
    third = api.get(second["links"]["next"]).json()

    assert [j["id"] for p in (first, second, third) for j in p["data"]] == job_ids
    assert "next" not in third["links"]
