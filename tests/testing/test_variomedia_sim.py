"""The Variomedia simulator over real HTTP (plain requests) and real DNS (dnspython).

Most tests drive the simulator with a manual clock, so job and publishing timing is exact and
nothing sleeps; one test runs on the real clock to prove the same behaviour in real time.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import requests

from certbot_dns_variomedia.clock import SYSTEM_CLOCK, Clock
from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones
from certbot_dns_variomedia.testing.variomedia.simulator import (
    BaseRecord,
    Lockout,
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

TIMEOUT = 5.0
V1 = "application/vnd.variomedia.v1+json"
JSON_API = "application/vnd.api+json"
UNAUTHORIZED = (
    "The server could not verify that you are authorized to access the URL requested. You "
    "either supplied the wrong credentials (e.g. a bad password), or your browser doesn't "
    "understand how to supply the credentials required."
)
TWO_DOMAINS = (SimDomain("example.test"), SimDomain("other.test", package_id="2"))


class ManualClock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        return 1_700_000_000.0 + self.monotonic()

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class Api:
    """A bare requests session that speaks to one simulator like a careful client would."""

    def __init__(self, sim: VariomediaSimulator) -> None:
        self.base = sim.url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"token {sim.token}", "Accept": V1})

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=TIMEOUT, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=TIMEOUT, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.patch(self.url(path), json=body, timeout=TIMEOUT, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.url(path), timeout=TIMEOUT, **kwargs)

    def create(
        self,
        name: str,
        data: str,
        record_type: str = "TXT",
        domain: str = "example.test",
        **extra: Any,
    ) -> requests.Response:
        attributes = {"record_type": record_type, "name": name, "domain": domain, "data": data}
        return self.post(
            "/dns-records",
            {"data": {"type": "dns-record", "attributes": {**attributes, **extra}}},
        )

    def create_ok(self, name: str, data: str, **kwargs: Any) -> tuple[str, str]:
        """(record id, job id) of a successful create."""
        response = self.create(name, data, **kwargs)
        assert response.status_code == 202, response.text
        links = response.json()["data"]["links"]
        return links["dns-record"].rsplit("/", 1)[1], response.json()["data"]["id"]


Launch = Callable[..., VariomediaSimulator]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Start simulators for a test and stop every one of them afterwards."""
    started: list[VariomediaSimulator] = []

    def start(
        config: SimConfig | None = None, *, clock: Clock = SYSTEM_CLOCK
    ) -> VariomediaSimulator:
        sim = VariomediaSimulator(config or SimConfig(rate_limit=None), clock=clock)
        started.append(sim)
        return sim.start()

    try:
        yield start
    finally:
        for sim in started:
            sim.stop()


@pytest.fixture
def connect() -> Iterator[Callable[[VariomediaSimulator], Api]]:
    sessions: list[Api] = []

    def make(sim: VariomediaSimulator) -> Api:
        sessions.append(Api(sim))
        return sessions[-1]

    try:
        yield make
    finally:
        for api in sessions:
            api.session.close()


@pytest.fixture
def sim(launch: Launch, clock: ManualClock) -> VariomediaSimulator:
    return launch(SimConfig(domains=TWO_DOMAINS, rate_limit=None), clock=clock)


@pytest.fixture
def api(sim: VariomediaSimulator, connect: Callable[[VariomediaSimulator], Api]) -> Api:
    return connect(sim)


def dig(
    sim: VariomediaSimulator, index: int, name: str, rdtype: str = "TXT"
) -> dns.message.Message:
    """Ask name server `index` like a modern resolver would (EDNS, 1232-byte payload)."""
    host, port = sim.nameservers[index].rsplit(":", 1)
    query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    return dns.query.udp(query, host, port=int(port), timeout=TIMEOUT)


def txt(response: dns.message.Message) -> list[str]:
    return sorted(
        b"".join(rdata.strings).decode()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for rdata in rrset
    )


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    assert error["status"] == str(response.status_code)
    return error


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


# -- domains ----------------------------------------------------------------------------------


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
    launch: Launch, clock: ManualClock, connect: Callable[[VariomediaSimulator], Api]
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


def test_post_defaults_and_normalisation(sim: VariomediaSimulator, api: Api) -> None:
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
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: ManualClock
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
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: ManualClock
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


# -- queue jobs -------------------------------------------------------------------------------


def test_job_is_pending_until_job_delay_then_done(
    sim: VariomediaSimulator, api: Api, clock: ManualClock
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


def test_finished_jobs_vanish_after_24_hours(api: Api, clock: ManualClock) -> None:
    _, job_id = api.create_ok("_acme-challenge", "v")

    clock.advance(24 * 3600)
    kept = api.get(f"/queue-jobs/{job_id}")
    clock.advance(1)
    gone = api.get(f"/queue-jobs/{job_id}")

    assert kept.status_code == 200
    assert gone.status_code == 404
    assert error_of(gone)["title"] == f"Queue job with ID '{job_id}' not found."


def test_pending_job_list_is_paginated(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: ManualClock
) -> None:
    sim = launch(SimConfig(rate_limit=None, page_size=2), clock=clock)
    api = connect(sim)
    job_ids = [api.create_ok(f"r{i}", "v")[1] for i in range(5)]

    first = api.get("/queue-jobs").json()
    second = api.get(first["links"]["next"]).json()
    third = api.get(second["links"]["next"]).json()

    assert [j["id"] for p in (first, second, third) for j in p["data"]] == job_ids
    assert "next" not in third["links"]


# -- DNS publishing ---------------------------------------------------------------------------


def test_publishing_in_real_time_reaches_ns1_before_ns2(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    sim = launch(
        SimConfig(
            rate_limit=None,
            job_delay=0.1,
            nameservers=[
                SimNameServer("ns1.variomedia.test"),
                SimNameServer("ns2.variomedia.test", delay=0.4),
            ],
        )
    )
    api = connect(sim)
    name = "_acme-challenge.example.test"

    def wait_for(index: int, expected: list[str]) -> float:
        deadline = time.monotonic() + 3
        while txt(dig(sim, index, name)) != expected:
            assert time.monotonic() < deadline, f"ns{index + 1} never served {expected}"
            time.sleep(0.02)
        return time.monotonic()

    started = time.monotonic()
    record_id, _ = api.create_ok("_acme-challenge", "token-1")
    assert txt(dig(sim, 0, name)) == []
    on_ns1 = wait_for(0, ["token-1"])
    assert txt(dig(sim, 1, name)) == []  # ns2 lags 0.4 s behind
    on_ns2 = wait_for(1, ["token-1"])
    assert 0.1 <= on_ns1 - started < 0.4
    assert on_ns2 - started >= 0.5

    deleting = time.monotonic()
    assert api.delete(f"/dns-records/{record_id}").status_code == 202
    assert txt(dig(sim, 1, name)) == ["token-1"]
    gone_ns1 = wait_for(0, [])
    assert txt(dig(sim, 1, name)) == ["token-1"]
    gone_ns2 = wait_for(1, [])
    assert gone_ns2 - deleting >= 0.5 > gone_ns1 - deleting


def test_publishing_timeline_per_name_server(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: ManualClock
) -> None:
    sim = launch(
        SimConfig(
            rate_limit=None,
            nameservers=[
                SimNameServer("ns1.variomedia.test"),
                SimNameServer("ns2.variomedia.test", delay=0.3),
                SimNameServer("ns3.variomedia.test", delay=0.0, publish=False),
            ],
        ),
        clock=clock,
    )
    api = connect(sim)
    name = "_acme-challenge.example.test"
    serial_before = dig(sim, 0, "example.test", "SOA").answer[0][0].serial

    record_id, _ = api.create_ok("_acme-challenge", "v1")
    seen = []
    for step in (0.1, 0.1, 0.2, 0.1):
        clock.advance(step)
        seen.append([sim.visible(i, name) for i in range(3)])

    assert seen == [
        [[], [], []],  # t=0.1: job pending
        [["v1"], [], []],  # t=0.2: job done, ns1 publishes
        [["v1"], [], []],  # t=0.4
        [["v1"], ["v1"], []],  # t=0.5: ns2 (0.3 s later); ns3 never publishes
    ]
    response = dig(sim, 1, name)
    assert response.flags & dns.flags.AA
    assert txt(response) == ["v1"]
    assert response.answer[0].ttl == 3600
    assert dig(sim, 0, "example.test", "SOA").answer[0][0].serial == serial_before + 1
    assert txt(dig(sim, 2, "example.test")) == ["v=spf1 include:_spf.variomedia.test ~all"]

    api.delete(f"/dns-records/{record_id}")
    clock.advance(0.2)
    assert [sim.visible(i, name) for i in range(3)] == [[], ["v1"], []]
    clock.advance(0.3)
    assert [sim.visible(i, name) for i in range(3)] == [[], [], []]
    assert dig(sim, 0, name).rcode() == dns.rcode.NXDOMAIN


def test_zones_have_soa_and_ns_and_refuse_foreign_names(sim: VariomediaSimulator) -> None:
    ns = dig(sim, 0, "other.test", "NS")
    soa = dig(sim, 1, "example.test", "SOA")
    foreign = dig(sim, 0, "example.org", "A")

    assert {r.to_text() for r in ns.answer[0]} == {"ns1.variomedia.test.", "ns2.variomedia.test."}
    assert soa.answer[0][0].mname == dns.name.from_text("ns1.variomedia.test")
    assert foreign.rcode() == dns.rcode.REFUSED


def test_name_servers_are_found_by_name_on_distinct_addresses(launch: Launch) -> None:
    sim = launch(SimConfig(rate_limit=None, dns_addresses=["127.0.0.2", "127.0.0.3"]))

    ports = {ns.rsplit(":", 1)[1] for ns in sim.nameservers}
    address = dig(sim, 0, "ns2.variomedia.test", "A").answer[0][0].address
    port = int(ports.pop())
    answer = dns.query.udp(
        dns.message.make_query("example.test", "SOA"), address, port=port, timeout=TIMEOUT
    )

    assert [ns.rsplit(":", 1)[0] for ns in sim.nameservers] == ["127.0.0.2", "127.0.0.3"]
    assert address == "127.0.0.3"
    assert answer.answer[0].rdtype == dns.rdatatype.SOA
    assert sim.dns_servers[1].queries == 1


def test_cname_delegation_to_another_account_zone(
    sim: VariomediaSimulator, api: Api, clock: ManualClock
) -> None:
    sim.add_record("example.test", "_acme-challenge", "CNAME", "_acme-challenge.other.test.")
    api.create_ok("_acme-challenge", "delegated", domain="other.test")
    clock.advance(1)

    response = dig(sim, 0, "_acme-challenge.example.test")

    assert [r.rdtype for r in response.answer] == [dns.rdatatype.CNAME, dns.rdatatype.TXT]
    assert txt(response) == ["delegated"]


def test_seeded_records_are_visible_at_once_and_checked(sim: VariomediaSimulator) -> None:
    seeded = sim.add_record("example.test", "_acme-challenge", "TXT", "old", tags=["custom", "x"])

    assert sim.visible(0, "_acme-challenge.example.test") == ["old"]
    assert sim.visible(1, "_acme-challenge.example.test") == ["old"]
    assert seeded.tags == ("custom", "x")
    assert seeded.source == "seeded"
    with pytest.raises(ValueError, match="Not ACE-encodable"):
        sim.add_record("example.test", "bad name", "TXT", "x")


def test_long_txt_values_are_split_into_strings(sim: VariomediaSimulator, api: Api) -> None:
    value = "k" * 600
    sim.add_record("example.test", "long", "TXT", value)

    (rdata,) = dig(sim, 0, "long.example.test").answer[0]

    assert [len(s) for s in rdata.strings] == [255, 255, 90]
    assert sim.visible(0, "long.example.test") == [value]


# -- rate limit and lock-out ------------------------------------------------------------------


def test_rate_limit_is_a_sliding_window_with_retry_after(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api], clock: ManualClock
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
    api = connect(launch(SimConfig(rate_limit=(5, 1.0))))

    statuses = [api.get("/domains").status_code for _ in range(6)]
    retry_after = int(api.get("/domains").headers["Retry-After"])
    time.sleep(1.0)
    after_window = api.get("/domains")

    assert statuses == [200] * 5 + [429]
    assert retry_after == 1
    assert after_window.status_code == 200


def test_default_rate_limit_is_10_per_10_seconds(
    launch: Launch, connect: Callable[[VariomediaSimulator], Api]
) -> None:
    api = connect(launch(SimConfig()))

    statuses = [api.get("/domains").status_code for _ in range(11)]

    assert statuses == [200] * 10 + [429]


@pytest.mark.parametrize("status", [403, 429])
def test_too_many_errors_lock_the_client_out(
    launch: Launch, clock: ManualClock, status: Literal[403, 429]
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


def test_errors_outside_the_window_do_not_lock(launch: Launch, clock: ManualClock) -> None:
    sim = launch(SimConfig(rate_limit=None, lockout=Lockout(errors=3, window=10.0)), clock=clock)

    with requests.Session() as session:
        statuses = []
        for _ in range(6):
            statuses.append(session.get(sim.url + "/domains", timeout=TIMEOUT).status_code)
            clock.advance(5)

    assert statuses == [401] * 6


# -- faults -----------------------------------------------------------------------------------


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


def test_truncated_json(sim: VariomediaSimulator, api: Api) -> None:
    sim.faults.truncate_json(path="/dns-records")

    response = api.get("/dns-records")

    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
        json.loads(response.text)
    assert api.get("/dns-records").json()["data"]


def test_rate_limit_storm_by_count_and_by_time(
    sim: VariomediaSimulator, api: Api, clock: ManualClock
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
    sim: VariomediaSimulator, api: Api, clock: ManualClock
) -> None:
    sim.faults.fail_jobs(method="POST")
    record_id, job_id = api.create_ok("_acme-challenge", "doomed")

    clock.advance(5)

    assert api.get(f"/queue-jobs/{job_id}").json()["data"]["attributes"]["status"] == "failed"
    assert api.get(f"/dns-records/{record_id}").status_code == 200
    assert sim.visible(0, "_acme-challenge.example.test") == []
    assert api.delete(f"/dns-records/{record_id}").status_code == 202


def test_failed_delete_job_leaves_the_record_published(
    sim: VariomediaSimulator, api: Api, clock: ManualClock
) -> None:
    record_id, _ = api.create_ok("_acme-challenge", "stays")
    clock.advance(1)
    sim.faults.fail_jobs(method="DELETE")

    api.delete(f"/dns-records/{record_id}")
    clock.advance(5)

    assert sim.visible(0, "_acme-challenge.example.test") == ["stays"]
    assert [j.status for j in sim.jobs()] == ["done", "failed"]


def test_stuck_job_stays_pending(sim: VariomediaSimulator, api: Api, clock: ManualClock) -> None:
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


# -- life cycle and configuration -------------------------------------------------------------


def test_starts_fast_and_stops_cleanly_with_open_connections() -> None:
    started = time.monotonic()
    sim = VariomediaSimulator(SimConfig(rate_limit=None)).start()
    startup = time.monotonic() - started
    api = Api(sim)
    try:
        assert api.get("/domains").status_code == 200  # leaves a keep-alive connection open
    finally:
        stopping = time.monotonic()
        sim.stop()
        stop_time = time.monotonic() - stopping
        sim.stop()
        api.session.close()

    assert startup < 0.25
    assert stop_time < 0.5
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.url + "/domains", timeout=TIMEOUT)
    for ns in sim.nameservers:  # the DNS ports are free again, for UDP and TCP
        with DNSServer(StaticZones(), port=int(ns.rsplit(":", 1)[1])):
            pass
    again = VariomediaSimulator(SimConfig(rate_limit=None), port=int(sim.url.rsplit(":", 1)[1]))
    again.start()
    again.stop()
    with pytest.raises(RuntimeError, match="only once"):
        again.start()


def test_a_client_hanging_up_mid_answer_prints_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A killed certbot resets its connection; the simulator's output must not look like a bug."""
    with VariomediaSimulator(SimConfig(rate_limit=None)) as sim:
        host, port = sim.url.removeprefix("http://").rsplit(":", 1)
        for _ in range(5):
            conn = socket.create_connection((host, int(port)), timeout=TIMEOUT)
            conn.sendall(b"GET /domains HTTP/1.1\r\nHost: sim\r\n\r\n")
            # Linger 0: close() sends a reset, as the kernel does for a killed process.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        deadline = time.monotonic() + 5
        while len(sim.log) < 5:
            assert time.monotonic() < deadline, sim.log
            time.sleep(0.02)
        assert Api(sim).get("/domains").status_code == 200  # and it keeps serving
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"domains": [SimDomain("a.test"), SimDomain("A.test")]}, "unique"),
        ({"dns_addresses": ["127.0.0.2"]}, "one address per name server"),
        ({"nameservers": [SimNameServer("ns1.example.test")]}, "must not lie in an account domain"),
        ({"nameservers": []}, "at least one name server"),
        ({"page_size": 0}, "page_size"),
        ({"token": ""}, "token"),
        ({"domains": [SimDomain("x.test", base_records=(BaseRecord("A", "", "nope"),))]},
         "Not a valid A record"),
    ],
)  # fmt: skip
def test_bad_configuration_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VariomediaSimulator(SimConfig(**kwargs))


def test_command_line_serves_until_sigterm() -> None:
    command = [
        sys.executable, "-m", "certbot_dns_variomedia.testing.variomedia",
        "--domain", "a.test", "--domain", "b.test", "--job-delay", "0.05",
        "--ns-delay", "0", "--ns-delay", "0.1", "--no-rate-limit",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "the simulator printed nothing"
        summary = json.loads(process.stdout.readline())
        response = requests.get(
            summary["url"] + "/domains",
            headers={"Authorization": f"token {summary['token']}"},
            timeout=TIMEOUT,
        )
        host, port = summary["nameservers"][1].rsplit(":", 1)
        soa = dns.query.udp(
            dns.message.make_query("b.test", "SOA"), host, port=int(port), timeout=TIMEOUT
        )

        assert [d["id"] for d in response.json()["data"]] == ["a.test", "b.test"]
        assert len(summary["nameservers"]) == 2
        assert soa.answer[0].rdtype == dns.rdatatype.SOA
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
