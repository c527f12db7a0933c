"""Injected faults, each seen by a client over real HTTP: what it gets and what was committed."""

from __future__ import annotations

import json
import time

import pytest
import requests

from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from .conftest import TIMEOUT, Api, error_of


def test_server_error_burst_is_not_processed(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.server_errors(2, status=503, method="POST", path="/dns-records")

    failed = [api.create("_acme-challenge", "v").status_code for _ in range(2)]
    listing = api.get("/dns-records")
    succeeded = api.create("_acme-challenge", "v")

    assert failed == [503, 503]
    assert listing.status_code == 200  # GET did not match the fault
    assert succeeded.status_code == 202
    assert [r.source for r in sim.records()].count("api") == 1


def test_server_error_document(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.server_errors(status=500)

    response = api.get("/domains")

    assert response.status_code == 500
    assert error_of(response)["id"] == "internal_server_error"


def test_committed_post_with_lost_response(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.drop_after_commit()

    with pytest.raises(requests.ConnectionError):
        api.create("_acme-challenge", "lost")

    (record,) = [r for r in sim.records() if r.source == "api"]
    assert record.data == "lost"
    assert record.create_job is not None
    assert sim.log[-1].status is None
    assert sim.counters.no_response == 1
    assert api.create("_acme-challenge", "next").status_code == 202


def test_committed_post_answered_500(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.error_after_commit(status=500)

    response = api.create("_acme-challenge", "committed")

    assert response.status_code == 500
    assert [r.data for r in sim.records() if r.source == "api"] == ["committed"]


def test_after_commit_faults_wait_for_a_successful_request(
    sim: VariomediaSimulator, api: Api
) -> None:
    sim.faults.error_after_commit()

    invalid = api.create("bad name", "v")
    spoiled = api.create("_acme-challenge", "v")

    assert invalid.status_code == 422
    assert spoiled.status_code == 500


def test_slow_answer(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.slow(0.6, path="/domains")

    with pytest.raises(requests.ReadTimeout):
        api.session.get(api.url("/domains"), timeout=(TIMEOUT, 0.2))
    sim.faults.slow(0.2)
    started = time.monotonic()
    response = api.get("/dns-records")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_html_error_page(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.html_errors(status=502)

    response = api.get("/domains")

    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_echoed_headers_carry_the_token_and_control_characters(
    sim: VariomediaSimulator, api: Api
) -> None:
    sim.faults.echo_headers(method="POST")

    response = api.create("_acme-challenge", "v")

    assert response.status_code == 400
    detail = error_of(response)["detail"]
    assert f"authorization: token {sim.token}" in detail
    assert "\r\n" in detail
    assert "\x1b[" in detail
    assert sim.records() == [r for r in sim.records() if r.source != "api"]  # not processed


def test_redirect_with_an_html_body(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.redirect(status=301, location="https://elsewhere.test/")

    response = api.get("/domains", allow_redirects=False)

    assert response.status_code == 301
    assert response.headers["Location"] == "https://elsewhere.test/"
    assert response.text.startswith("<!DOCTYPE html>")


def test_a_dripping_answer_beats_every_read_timeout(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.drip(0.02, path="/domains")

    started = time.monotonic()
    response = api.session.get(api.url("/domains"), timeout=(TIMEOUT, 0.5))

    assert response.json() == {"data": []}
    assert time.monotonic() - started >= 1.9  # 100 bytes 0.02 s apart; no read waited 0.5 s


def test_a_huge_answer_has_no_content_length(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.huge(2, path="/domains")

    with api.session.get(api.url("/domains"), timeout=TIMEOUT, stream=True) as response:
        assert "Content-Length" not in response.headers
        size = sum(len(chunk) for chunk in response.iter_content(65536))

    assert size >= 2 * 1024 * 1024


def test_endless_pages_link_to_a_new_page_each_time(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.endless_pages(path="/domains")

    url, seen = "/domains", []
    for _ in range(5):
        links = api.get(url).json()["links"]
        url = links["next"]
        seen.append(url)

    assert len(set(seen)) == 5
    assert api.get("/dns-records").json()["links"].get("next") is None  # another path ends


def test_truncated_json(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.truncate_json(path="/dns-records")

    response = api.get("/dns-records")

    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
        json.loads(response.text)
    assert api.get("/dns-records").json()["data"]


def test_rate_limit_storm_by_count_and_by_time(
    sim: VariomediaSimulator, api: Api, clock: FakeClock
) -> None:
    sim.faults.rate_limit_storm(2, retry_after=7)
    counted = [api.get("/domains") for _ in range(3)]
    sim.faults.rate_limit_storm(seconds=2.5)
    timed = api.get("/domains")
    clock.advance(2.5)
    after = api.get("/domains")

    assert [r.status_code for r in counted] == [429, 429, 200]
    assert counted[0].headers["Retry-After"] == "7"
    assert timed.status_code == 429
    assert timed.headers["Retry-After"] == "3"
    assert after.status_code == 200
    with pytest.raises(ValueError, match="either count or seconds"):
        sim.faults.rate_limit_storm()


def test_expired_token(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.expire_token()

    expired = [api.get("/domains").status_code for _ in range(2)]
    sim.faults.clear()

    assert expired == [401, 401]
    assert api.get("/domains").status_code == 200


def test_failed_job_never_publishes_and_keeps_the_record_listed(
    sim: VariomediaSimulator, api: Api, clock: FakeClock
) -> None:
    sim.faults.fail_jobs(method="POST")
    record_id, job_id = api.create_ok("_acme-challenge", "doomed")

    clock.advance(5)

    assert api.get(f"/queue-jobs/{job_id}").json()["data"]["attributes"]["status"] == "failed"
    assert api.get(f"/dns-records/{record_id}").status_code == 200
    assert sim.visible(0, "_acme-challenge.example.test") == []
    assert api.delete(f"/dns-records/{record_id}").status_code == 202


def test_failed_delete_job_leaves_the_record_published(
    sim: VariomediaSimulator, api: Api, clock: FakeClock
) -> None:
    record_id, _ = api.create_ok("_acme-challenge", "stays")
    clock.advance(1)
    sim.faults.fail_jobs(method="DELETE")

    api.delete(f"/dns-records/{record_id}")
    clock.advance(5)

    assert sim.visible(0, "_acme-challenge.example.test") == ["stays"]
    assert [j.status for j in sim.jobs()] == ["done", "failed"]


def test_stuck_job_stays_pending(sim: VariomediaSimulator, api: Api, clock: FakeClock) -> None:
    sim.faults.stick_jobs()
    _, stuck = api.create_ok("_acme-challenge", "never")
    _, normal = api.create_ok("_acme-challenge", "soon")

    clock.advance(48 * 3600)

    assert api.get(f"/queue-jobs/{stuck}").json()["data"]["attributes"]["status"] == "pending"
    assert [j["id"] for j in api.get("/queue-jobs").json()["data"]] == [stuck]
    assert api.get(f"/queue-jobs/{normal}").status_code == 404  # done, then expired
    assert sim.visible(1, "_acme-challenge.example.test") == ["soon"]


def test_fault_arguments_are_checked(sim: VariomediaSimulator) -> None:
    with pytest.raises(ValueError, match="5xx"):
        sim.faults.server_errors(status=404)
    with pytest.raises(ValueError, match="at least 1"):
        sim.faults.slow(1.0, count=0)
