"""The API client against the simulator over real HTTP: endpoints, variants, errors, pacing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from certbot_dns_variomedia.api.client import VariomediaClient
from certbot_dns_variomedia.api.pacing import RequestPacer
from certbot_dns_variomedia.api.transport import RetryPolicy, check_api_url
from certbot_dns_variomedia.errors import (
    AuthenticationError,
    ConfigurationError,
    JobError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from certbot_dns_variomedia.testing.servers.service import free_port
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    VariomediaSimulator,
)

CONFIG = SimConfig(
    domains=(
        SimDomain("example.test"),
        SimDomain("other.test", update_lock=True, package_id="2"),
        SimDomain("registered-only.test", presence=False),
        SimDomain("bücher.test"),
    ),
    job_delay=0.05,
    rate_limit=None,
)
FAST = RetryPolicy(backoff=0.02, max_backoff=0.1)


def client_for(sim: VariomediaSimulator, **kwargs: object) -> VariomediaClient:
    options: dict[str, object] = {
        "token_source": "dns_variomedia_token in /test.ini",
        "retry": FAST,
        "pacer": RequestPacer(limit=1000, window=1.0),  # pacing has tests of its own below
    }
    options.update(kwargs)
    return VariomediaClient(sim.token, sim.url, **options)  # type: ignore[arg-type]


@pytest.fixture
def sim() -> Iterator[VariomediaSimulator]:
    with VariomediaSimulator(CONFIG) as server:
        yield server


@pytest.fixture
def client(sim: VariomediaSimulator) -> Iterator[VariomediaClient]:
    with client_for(sim) as c:
        yield c


# -- domains ---------------------------------------------------------------------------------


def test_list_domains(client: VariomediaClient) -> None:
    domains = {d.name: d for d in client.list_domains()}
    assert set(domains) == {
        "example.test",
        "other.test",
        "registered-only.test",
        "xn--bcher-kva.test",
    }
    assert domains["example.test"].has_presence
    assert domains["example.test"].update_lock is False
    assert domains["other.test"].update_lock is True
    assert domains["other.test"].package_id == "2"
    assert not domains["registered-only.test"].has_presence


def test_minimal_domain_list_leaves_the_lock_unknown() -> None:
    with VariomediaSimulator(replace(CONFIG, domain_list_presence="minimal")) as sim:
        client = client_for(sim)
        listed = {d.name: d for d in client.list_domains()}
        assert listed["other.test"].update_lock is None
        assert client.get_domain("other.test").update_lock is True


@pytest.mark.parametrize("answer", ["domain", "job"])
def test_update_lock_and_migration_mode(answer: str) -> None:
    with VariomediaSimulator(replace(CONFIG, patch_answer=answer)) as sim:  # type: ignore[arg-type]
        client = client_for(sim)
        job = client.set_update_lock("example.test", True)
        client.set_migration_mode("Example.TEST", True)
        state = {d.ace: d for d in sim.domains()}["example.test"]
        assert state.update_lock
        assert state.migration_mode
        assert (job is not None) == (answer == "job")


def test_unknown_domain_is_not_found(client: VariomediaClient) -> None:
    with pytest.raises(NotFoundError, match=r"GET /domains/nope\.test"):
        client.get_domain("nope.test")


# -- records ---------------------------------------------------------------------------------


def test_create_get_list_delete(sim: VariomediaSimulator, client: VariomediaClient) -> None:
    write = client.create_record("example.test", "_acme-challenge.www", "txt", "-value-1", ttl=300)
    assert write.record_id
    assert write.job is not None
    assert write.job.pending

    record = client.get_record(write.record_id)
    assert (record.fqdn, record.record_type, record.data, record.ttl) == (
        "_acme-challenge.www.example.test",
        "TXT",
        "-value-1",
        300,
    )
    assert record.id in {r.id for r in client.list_records(domains=["example.test"])}
    assert record.id not in {r.id for r in client.list_records(domains=["other.test"])}

    deleted = client.delete_record(write.record_id)
    assert not deleted.already_gone
    assert client.delete_record(write.record_id).already_gone
    assert [r.deleted for r in sim.records() if r.id == write.record_id] == [True]


def test_apex_record_and_idn_domain(client: VariomediaClient) -> None:
    write = client.create_record("Bücher.test", "", "TXT", "apex")
    record = client.get_record(write.record_id)
    assert (record.domain, record.name, record.fqdn) == (
        "xn--bcher-kva.test",
        "",
        "xn--bcher-kva.test",
    )


def test_pagination_is_followed_to_the_end() -> None:
    with VariomediaSimulator(replace(CONFIG, page_size=2)) as sim:
        client = client_for(sim)
        for i in range(7):
            client.create_record("example.test", f"r{i}", "TXT", f"v{i}")
        before = sim.counters.total
        records = client.list_records(domains=["example.test", "other.test"])
        pages = sim.counters.total - before
        expected = [r for r in sim.records() if r.domain in ("example.test", "other.test")]
        assert len({r.id for r in records}) == len(records) == len(expected)
        assert pages == (len(records) + 1) // 2
        assert {f"v{i}" for i in range(7)} <= {r.data for r in records}


def test_filters_by_package(client: VariomediaClient) -> None:
    records = client.list_records(package_ids=["2"])
    assert records
    assert {r.domain for r in records} == {"other.test"}


@pytest.mark.parametrize(
    "variant",
    [
        {"post_status": 200},
        {"post_status": 201},
        {"job_link": "body"},
        {"job_link": "header"},
        {"delete_answer": "done"},
        {"capital_names": True},
        {"extra_attributes": True},
    ],
)
def test_every_variant_of_the_api_is_understood(variant: dict[str, object]) -> None:
    with VariomediaSimulator(replace(CONFIG, **variant)) as sim:  # type: ignore[arg-type]
        client = client_for(sim)
        write = client.create_record("example.test", "_acme-challenge", "TXT", "v")
        assert write.record_id
        assert write.job is not None
        record = client.get_record(write.record_id)
        assert record.fqdn == "_acme-challenge.example.test"
        assert any(r.id == write.record_id for r in client.list_records(domains=["example.test"]))
        client.wait_for_jobs([write.job], timeout=5, interval=0.05)
        removal = client.delete_record(write.record_id)
        if variant == {"delete_answer": "done"}:
            assert removal.job is not None
            assert removal.job.done


def test_validation_errors_name_the_field(client: VariomediaClient) -> None:
    with pytest.raises(ValidationError) as e:
        client.create_record("example.test", "x", "TXT", "v", ttl=60)
    assert "ttl" in str(e.value)
    assert e.value.status == 422


def test_record_in_a_domain_without_presence_is_refused(client: VariomediaClient) -> None:
    with pytest.raises(ValidationError, match=r"registered-only\.test"):
        client.create_record("registered-only.test", "x", "TXT", "v")


# -- jobs ------------------------------------------------------------------------------------


def test_many_jobs_are_waited_for_with_few_requests(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    jobs = [client.create_record("example.test", f"j{i}", "TXT", "v").job for i in range(6)]
    assert all(j is not None and j.pending for j in jobs)
    before = sim.counters.total
    client.wait_for_jobs([j for j in jobs if j], timeout=10, interval=0.2)
    polls = sim.counters.total - before
    # one list of pending jobs (+ one per job that left it) — not one request per job per poll
    assert polls <= 1 + len(jobs) + 2
    assert all(j.status == "done" for j in sim.jobs())


def test_a_failed_job_is_named(sim: VariomediaSimulator, client: VariomediaClient) -> None:
    sim.faults.fail_jobs(1, method="POST")
    job = client.create_record("example.test", "f", "TXT", "v").job
    assert job is not None
    with pytest.raises(JobError) as e:
        client.wait_for_jobs([job], timeout=5, interval=0.05)
    assert job.id in str(e.value)
    assert "'failed'" in str(e.value)


def test_a_stuck_job_times_out_with_its_id(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    sim.faults.stick_jobs(1)
    job = client.create_record("example.test", "s", "TXT", "v").job
    assert job is not None
    with pytest.raises(JobError, match=f"{job.id} were still pending after 1 s"):
        client.wait_for_jobs([job], timeout=1, interval=0.1)


def test_pending_jobs_list(sim: VariomediaSimulator, client: VariomediaClient) -> None:
    sim.faults.stick_jobs(2)
    ids = {client.create_record("example.test", f"p{i}", "TXT", "v").job.id for i in range(2)}  # type: ignore[union-attr]
    assert ids <= {j.id for j in client.list_pending_jobs()}
    assert client.get_job(next(iter(ids))).pending


# -- errors ----------------------------------------------------------------------------------


def test_refused_token_says_where_to_fix_it(sim: VariomediaSimulator) -> None:
    client = VariomediaClient(
        "wrong-token-0000000", sim.url, token_source="dns_variomedia_token in /x.ini", retry=FAST
    )
    with pytest.raises(AuthenticationError) as e:
        client.list_domains()
    assert "check dns_variomedia_token in /x.ini" in str(e.value)
    assert "wrong-token" not in str(e.value)
    assert "wrong-token" not in repr(client)


def test_expired_token_mid_run(sim: VariomediaSimulator, client: VariomediaClient) -> None:
    client.list_domains()
    sim.faults.expire_token()
    with pytest.raises(AuthenticationError, match="401"):
        client.list_records()


def test_5xx_bursts_on_idempotent_requests_are_retried(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    sim.faults.server_errors(2, method="GET")
    assert client.list_domains()
    assert sim.counters.by_status.get(503) == 2


def test_persistent_5xx_gives_up_with_a_clear_error(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    sim.faults.server_errors(100)
    with pytest.raises(ServerError, match="Try again later"):
        client.list_domains()
    assert sim.counters.total == FAST.attempts


def test_a_5xx_on_post_is_not_blindly_repeated(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    sim.faults.server_errors(1, method="POST")
    write = client.create_record("example.test", "once", "TXT", "only-once")
    matching = [r for r in sim.records() if r.data == "only-once"]
    assert [r.id for r in matching] == [write.record_id]
    # it looked for the record before sending the POST again
    routes = [f"{e.method} {e.path}" for e in sim.log]
    assert routes.index("GET /dns-records") < len(routes) - 1


@pytest.mark.parametrize("fault", ["drop_after_commit", "error_after_commit"])
def test_a_lost_post_answer_makes_no_duplicate(
    sim: VariomediaSimulator, client: VariomediaClient, fault: str
) -> None:
    getattr(sim.faults, fault)(1)
    write = client.create_record("example.test", "_acme-challenge", "TXT", "fresh-value")
    matching = [r for r in sim.records() if r.data == "fresh-value"]
    assert [r.id for r in matching] == [write.record_id]
    assert sum(1 for e in sim.log if e.method == "POST") == 1


@pytest.mark.parametrize("fault", ["html_errors", "truncate_json"])
def test_answers_that_are_not_json_api(
    sim: VariomediaSimulator, client: VariomediaClient, fault: str
) -> None:
    getattr(sim.faults, fault)(100, method="GET")
    with pytest.raises(ServerError) as e:
        client.list_domains()
    assert "not JSON:API" in str(e.value) or "HTML page" in str(e.value)


def test_no_server_is_a_network_error() -> None:
    port = free_port()[0]
    client = VariomediaClient("a-token-123456789", f"http://127.0.0.1:{port}", retry=FAST)
    with pytest.raises(NetworkError, match="No answer from the Variomedia API"):
        client.list_domains()


def test_slow_answers_hit_the_read_timeout(sim: VariomediaSimulator) -> None:
    sim.faults.slow(2.0, count=100)
    client = client_for(sim, timeout=(1.0, 0.3), retry=replace(FAST, attempts=2))
    with pytest.raises(NetworkError, match="timed out"):
        client.list_domains()


def test_failures_in_a_row_stop_the_client(sim: VariomediaSimulator) -> None:
    sim.faults.server_errors(1000)
    client = client_for(sim, retry=replace(FAST, attempts=3, max_consecutive_failures=5))
    with pytest.raises(ServerError):
        client.list_domains()
    with pytest.raises(ServerError, match="Giving up after 5 failed requests in a row"):
        client.list_domains()
    assert sim.counters.total == 5


# -- pacing ----------------------------------------------------------------------------------


def test_a_burst_of_40_requests_draws_no_429() -> None:
    with VariomediaSimulator(replace(CONFIG, rate_limit=(5, 0.5))) as sim:
        client = client_for(sim, pacer=RequestPacer(limit=5, window=0.5))
        for _ in range(40):
            client.get_domain("example.test")
        assert sim.counters.total == 40
        assert sim.counters.too_many_requests == 0


def test_without_pacing_the_same_burst_draws_429s_and_still_finishes() -> None:
    """The control experiment: the simulator's limit is real, and Retry-After saves the day."""
    with VariomediaSimulator(replace(CONFIG, rate_limit=(5, 0.5))) as sim:
        client = client_for(sim)
        for _ in range(12):
            client.get_domain("example.test")
        assert sim.counters.too_many_requests > 0
        assert sim.counters.by_status[200] == 12


def test_retry_after_is_honoured(sim: VariomediaSimulator, client: VariomediaClient) -> None:
    sim.faults.rate_limit_storm(1, retry_after=1)
    client.list_domains()
    refused, retried = sim.log[0], sim.log[1]
    assert refused.status == 429
    assert retried.status == 200
    assert retried.time - refused.time >= 1.0


def test_a_retry_after_beyond_the_bound_is_reported_not_waited(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    sim.faults.rate_limit_storm(1, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(RateLimitError, match="asked to wait 3600 s"):
        client.list_domains()
    assert time.monotonic() - started < 5


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.variomedia.de", True),
        ("https://api.variomedia.de/", True),
        ("http://127.0.0.1:8080", True),
        ("http://[::1]:8080", True),
        ("http://localhost", True),
        ("http://api.variomedia.de", False),
        ("http://10.0.0.1", False),
        ("ftp://api.variomedia.de", False),
        ("https://user:pw@api.variomedia.de", False),
    ],
)
def test_api_url_rules(url: str, ok: bool) -> None:
    if ok:
        assert check_api_url(url) == url.rstrip("/")
    else:
        with pytest.raises(ConfigurationError):
            check_api_url(url)


@pytest.mark.parametrize("token", ["", "has space", "line\nbreak"])
def test_malformed_tokens_are_refused_before_any_request(token: str) -> None:
    with pytest.raises(ConfigurationError, match="empty or malformed"):
        VariomediaClient(token, "https://api.variomedia.de")
