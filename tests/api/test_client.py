"""The API client against the simulator over real HTTP: endpoints, variants, jobs, lost answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from certbot_dns_variomedia.api.client import VariomediaClient
from certbot_dns_variomedia.errors import JobError, NotFoundError, ValidationError
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from .conftest import CONFIG, client_for

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


# -- writes whose answer was lost ------------------------------------------------------------


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
