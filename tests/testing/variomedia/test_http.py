"""The simulator's request pipeline over real HTTP: authentication, content negotiation,
routing, the rate limit and the error lock-out, and the request log and counters."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Literal

import pytest
import requests

from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.variomedia.simulator import (
    Lockout,
    SimConfig,
    VariomediaSimulator,
)

from .conftest import JSON_API, TIMEOUT, UNAUTHORIZED, V1, Api, Launch, error_of

# -- authentication and headers --------------------------------------------------------------


def test_token_header_and_basic_auth_are_both_accepted(sim: VariomediaSimulator) -> None:
    with requests.Session() as session:
        by_token = session.get(
            sim.url + "/domains", headers={"Authorization": f"token {sim.token}"}, timeout=TIMEOUT
        )
        by_basic = session.get(sim.url + "/domains", auth=("token", sim.token), timeout=TIMEOUT)

    assert by_token.status_code == by_basic.status_code == 200
    assert by_token.json() == by_basic.json()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "token wrong-token",
        "Bearer {token}",
        "Basic " + base64.b64encode(b"user:{token}").decode(),
        "Basic not-base64!",
    ],
    ids=["none", "wrong-token", "bearer", "basic-wrong-user", "basic-garbage"],
)
def test_bad_credentials_get_the_401_document(
    sim: VariomediaSimulator, authorization: str | None
) -> None:
    headers = (
        {} if authorization is None else {"Authorization": authorization.format(token=sim.token)}
    )
    response = requests.get(sim.url + "/dns-records", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"status": "401", "title": UNAUTHORIZED, "id": "unauthorized"}],
        "links": {"self": sim.url + "/dns-records"},
    }


@pytest.mark.parametrize(
    "accept", [None, V1, "*/*", "application/json", JSON_API, "text/html, application/json;q=0.9"]
)
def test_accepted_versions_and_types(sim: VariomediaSimulator, accept: str | None) -> None:
    headers = {"Authorization": f"token {sim.token}"}
    if accept is not None:
        headers["Accept"] = accept
    response = requests.get(sim.url + "/domains", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 200


@pytest.mark.parametrize("accept", ["application/vnd.variomedia.v2+json", "text/html"])
def test_unknown_version_or_type_is_406(api: Api, accept: str) -> None:
    response = api.get("/domains", headers={"Accept": accept})

    assert response.status_code == 406
    assert error_of(response)["id"] == "not_acceptable"


def test_response_type_follows_the_request_content_type(api: Api) -> None:
    plain = api.get("/domains")
    json_api = api.get("/domains", headers={"Content-Type": JSON_API})
    created = api.post(
        "/dns-records",
        {"data": {"type": "dns-record", "attributes": {}}},
        headers={"Content-Type": JSON_API},
    )

    assert plain.headers["Content-Type"] == "application/json"
    assert json_api.headers["Content-Type"] == JSON_API
    assert created.headers["Content-Type"] == JSON_API  # errors too


def test_body_needs_a_json_content_type(api: Api) -> None:
    body = json.dumps({"data": {"type": "dns-record", "attributes": {}}})
    text = api.session.post(
        api.url("/dns-records"), data=body, headers={"Content-Type": "text/plain"}, timeout=TIMEOUT
    )
    missing = api.session.post(api.url("/dns-records"), data=body.encode(), timeout=TIMEOUT)
    with_charset = api.session.post(
        api.url("/dns-records"),
        data=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=TIMEOUT,
    )

    assert text.status_code == missing.status_code == 415
    assert error_of(text)["id"] == "unsupported_media_type"
    assert with_charset.status_code == 422  # accepted as JSON, then validated


def test_invalid_json_is_400(api: Api) -> None:
    response = api.session.post(
        api.url("/dns-records"),
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert error_of(response)["id"] == "bad_request"


def test_unknown_path_method_and_parameters(api: Api) -> None:
    unknown = api.get("/dns-record")
    trailing = api.get("/dns-records/")
    method = api.post("/queue-jobs", {"data": {}})
    parameter = api.get("/dns-records", params={"sort": "name"})
    foreign_filter = api.get("/dns-records", params={"filter[owner_id]": "1"})
    single_with_filter = api.get("/queue-jobs/1", params={"filter[domain]": "x"})

    assert unknown.status_code == trailing.status_code == 404
    assert method.status_code == 405
    assert method.headers["Allow"] == "GET"
    for response, key in (
        (parameter, "sort"),
        (foreign_filter, "filter[owner_id]"),
        (single_with_filter, "filter[domain]"),
    ):
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": key}


# -- rate limit and lock-out ------------------------------------------------------------------


def test_rate_limit_is_a_sliding_window_with_retry_after(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: FakeClock
) -> None:
    sim = launch(SimConfig(rate_limit=(2, 10.0)), clock=clock)
    api = connect(sim)

    first = api.get("/domains")
    clock.advance(3)
    second = api.get("/domains")
    clock.advance(1)
    refused = api.get("/domains")
    clock.advance(6)
    freed = api.get("/domains")
    refused_again = api.get("/domains")

    assert first.status_code == second.status_code == freed.status_code == 200
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "6"  # the first request leaves the window at t=10
    assert error_of(refused)["id"] == "too_many_requests"
    assert refused_again.headers["Retry-After"] == "3"
    assert sim.counters.too_many_requests == 2


def test_tight_rate_limit_in_real_time(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    # A window of 2 s: seven requests fit into it on any machine, however busy.
    api = connect(launch(SimConfig(rate_limit=(5, 2.0))))

    statuses = [api.get("/domains").status_code for _ in range(6)]
    retry_after = int(api.get("/domains").headers["Retry-After"])
    time.sleep(retry_after)
    after_window = api.get("/domains")

    assert statuses == [200] * 5 + [429]
    assert 1 <= retry_after <= 2  # whole seconds, rounded up, until the window has room
    assert after_window.status_code == 200


def test_default_rate_limit_is_10_per_10_seconds(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    api = connect(launch(SimConfig()))

    statuses = [api.get("/domains").status_code for _ in range(11)]

    assert statuses == [200] * 10 + [429]


@pytest.mark.parametrize("status", [403, 429])
def test_too_many_errors_lock_the_client_out(
    launch: Launch, clock: FakeClock, status: Literal[403, 429]
) -> None:
    lockout = Lockout(errors=5, window=60.0, duration=30.0, status=status)
    sim = launch(SimConfig(rate_limit=None, lockout=lockout), clock=clock)
    good = {"Authorization": f"token {sim.token}"}

    with requests.Session() as session:
        failures = [
            session.get(sim.url + "/domains", timeout=TIMEOUT).status_code for _ in range(5)
        ]
        locked = session.get(sim.url + "/domains", headers=good, timeout=TIMEOUT)
        clock.advance(29)
        still = session.get(sim.url + "/domains", headers=good, timeout=TIMEOUT)
        clock.advance(1)
        free = session.get(sim.url + "/domains", headers=good, timeout=TIMEOUT)

    assert failures == [401] * 5
    assert locked.status_code == status
    assert error_of(locked)["id"] == "access_locked"
    assert locked.headers["Retry-After"] == "30"
    assert still.headers["Retry-After"] == "1"
    assert free.status_code == 200


def test_errors_outside_the_window_do_not_lock(launch: Launch, clock: FakeClock) -> None:
    sim = launch(SimConfig(rate_limit=None, lockout=Lockout(errors=3, window=10.0)), clock=clock)

    with requests.Session() as session:
        statuses = []
        for _ in range(6):
            statuses.append(session.get(sim.url + "/domains", timeout=TIMEOUT).status_code)
            clock.advance(5)

    assert statuses == [401] * 6


# -- bookkeeping ------------------------------------------------------------------------------


def test_log_and_counters(sim: VariomediaSimulator, api: Api) -> None:
    api.get("/dns-records", params={"filter[domain]": "example.test"})
    api.get("/dns-records/1")
    api.get("/dns-records/2")
    api.create("_acme-challenge", "v")

    assert sim.counters.total == 4
    assert sim.counters.by_status == {200: 1, 404: 2, 202: 1}
    assert sim.counters.by_route == {
        "GET /dns-records": 1,
        "GET /dns-records/{id}": 2,
        "POST /dns-records": 1,
    }
    first, *_, last = sim.log
    assert (first.method, first.path, first.query) == (
        "GET",
        "/dns-records",
        "filter%5Bdomain%5D=example.test",
    )
    assert (last.method, last.status, last.client) == ("POST", 202, "127.0.0.1")
    assert last.body_size > 50
    sim.counters.reset()
    assert sim.counters.total == 0
    assert len(sim.log) == 4


def test_secrets_stay_out_of_reprs(sim: VariomediaSimulator) -> None:
    assert sim.token not in repr(sim.config)
    assert sim.token not in repr(sim)
