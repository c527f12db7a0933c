"""core/run.py: sweep, present, wait and remove of a `ChallengeRun` against the simulator.

Real HTTP to the Variomedia simulator and real DNS to its name servers, on loopback. The run and
the simulator share one fake clock: a job finishes, and a name server publishes, when the run's
own sleeps have moved the clock far enough, so every wait is exact and takes no real time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pytest
import requests

from certbot_dns_variomedia.core.propagation import PropagationStatus
from certbot_dns_variomedia.core.run import ChallengeRun
from certbot_dns_variomedia.core.settings import Settings
from certbot_dns_variomedia.core.state import StateFile, StoredRecord, owner_alive, process_owner
from certbot_dns_variomedia.credentials import VariomediaCredentials
from certbot_dns_variomedia.errors import (
    JobError,
    NotAuthoritativeError,
    PropagationError,
    ValidationError,
)
from certbot_dns_variomedia.nameservers import NameServer
from certbot_dns_variomedia.resolver import Resolver, parse_nameservers
from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.variomedia.simulator import (
    RecordSnapshot,
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

# Powers of two, so that the fake clock adds up exactly: a job is done 0.25 s after its POST,
# ns1 publishes at once and ns2 0.25 s later; DNS rounds every 0.125 s.
JOB_DELAY = NS2_DELAY = 0.25
INTERVAL = 0.125
CONFIG = SimConfig(
    domains=(SimDomain("example.test"), SimDomain("other.test", update_lock=True)),
    nameservers=(
        SimNameServer("ns1.variomedia.test"),
        SimNameServer("ns2.variomedia.test", delay=NS2_DELAY),
    ),
    job_delay=JOB_DELAY,
    rate_limit=None,
)
APEX = "_acme-challenge.example.test"
OTHER = "_acme-challenge.www.other.test"
NAMES = ["example.test", "*.example.test", "www.other.test"]
VALUES = ["apex-value", "wildcard-value", "other-value"]


@dataclass
class Stage:
    """A simulator, the clock it shares with the runs, and a state file of its own."""

    sim: VariomediaSimulator
    clock: FakeClock
    state: StateFile
    settings: Settings
    messages: list[str]
    _runs: contextlib.ExitStack

    def open(self, resolver: Resolver | None = None, **settings: Any) -> ChallengeRun:
        """A run as the front doors build it, closed when the test ends."""
        credentials = VariomediaCredentials(self.sim.token, self.sim.url, source="the test")
        run = ChallengeRun.open(
            credentials,
            self.state,
            replace(self.settings, **settings),
            resolver=resolver,
            clock=self.clock,
            notify=self.messages.append,
        )
        return self._runs.enter_context(run)

    def present(self, run: ChallengeRun, names: list[str] = NAMES) -> None:
        run.present(list(zip(run.plan(names), VALUES, strict=False)))

    def written(self) -> list[RecordSnapshot]:
        return [r for r in self.sim.records() if r.source == "api"]

    def paths(self, method: str, since: int = 0) -> list[str]:
        """The paths of the requests with `method`, from request number `since` on."""
        return [e.path for e in self.sim.log[since:] if e.method == method]


MakeStage = Callable[..., Stage]


@pytest.fixture
def make_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeStage]:
    # The client's pacing ledger lives in the cache directory: one of the test's own.
    monkeypatch.setenv("VARIOMEDIA_DNS_CACHE_DIR", str(tmp_path / "cache"))
    with contextlib.ExitStack() as stack:

        def make(config: SimConfig = CONFIG) -> Stage:
            clock = FakeClock()
            sim = stack.enter_context(VariomediaSimulator(config, clock=clock))
            servers = tuple(parse_nameservers(",".join(sim.nameservers)))
            settings = Settings(nameservers=servers, dns_interval=INTERVAL)
            return Stage(sim, clock, StateFile(tmp_path / "state.json"), settings, [], stack)

        yield make


@pytest.fixture
def stage(make_stage: MakeStage) -> Stage:
    return make_stage()


def dead_owner() -> str:
    """The owner string of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = process_owner(process.pid)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert not owner_alive(owner)
    return owner


# -- sweep ----------------------------------------------------------------------------------------


def test_sweep_removes_what_dead_runs_left_and_never_a_live_runs_records(stage: Stage) -> None:
    run = stage.open()
    dead, live = dead_owner(), process_owner(os.getppid())
    sim = stage.sim

    def leftover(value: str, owner: str, **fields: Any) -> StoredRecord:
        record = sim.add_record("example.test", "_acme-challenge", "TXT", value)
        entry = StoredRecord(record.id, run.account, "example.test", APEX, value, owner=owner)
        entry = replace(entry, **fields)
        stage.state.add(entry)
        return entry

    abandoned = leftover("abandoned", dead)
    queued_but_visible = leftover("still-visible", dead, deleting=True)
    busy = leftover("busy", live)
    foreign = leftover("other-account", dead, account="0123456789abcdef")
    # A queued removal of a dead run that went through: no server shows its value any more.
    gone = StoredRecord("424242", run.account, "example.test", APEX, "gone", owner=dead)
    stage.state.add(replace(gone, deleting=True))

    run.sweep()

    expected = {abandoned.record_id, queued_but_visible.record_id}
    assert sorted(stage.paths("DELETE")) == sorted(f"/dns-records/{i}" for i in expected)
    assert stage.messages == [
        "Cleaning up 1 challenge record(s) an earlier run left behind (interrupted, or its "
        f"cleanup failed): {APEX}"
    ]
    entries = {e.record_id: e for e in stage.state.records()}
    assert set(entries) == expected | {busy.record_id, foreign.record_id}  # "424242" confirmed
    assert all(entries[i].deleting for i in expected)  # their delete jobs are still queued
    assert not entries[busy.record_id].deleting
    live_values = {r.data for r in sim.records() if not r.deleted and r.source == "seeded"}
    assert live_values == {"busy", "other-account"}

    # Once the delete jobs are done and DNS no longer shows the values, the next run's sweep
    # drops the entries after asking DNS only.
    stage.clock.advance(JOB_DELAY + NS2_DELAY)
    requests_before = len(sim.log)
    stage.open().sweep()
    assert len(sim.log) == requests_before
    assert {e.record_id for e in stage.state.records()} == {busy.record_id, foreign.record_id}


def test_sweep_deletes_only_records_that_are_still_the_txt_that_was_written(
    stage: Stage, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupted, restored, copied or forged state file once made the sweep DELETE any id
    it listed: the zone's MX record among them."""
    run = stage.open()
    dead, sim = dead_owner(), stage.sim
    mx = sim.add_record("example.test", "", "MX", "10 mail.example.test")
    moved = sim.add_record("example.test", "_acme-challenge.www", "TXT", "ours")
    changed = sim.add_record("example.test", "_acme-challenge", "TXT", "someone-elses-value")
    ours = sim.add_record("example.test", "_acme-challenge", "TXT", "ours")
    entries = {
        mx.id: "ours",  # the id of the MX record, under a TXT entry
        moved.id: "ours",  # a TXT record, but at another name
        changed.id: "ours",  # a TXT record at the name, with another value
        ours.id: "ours",  # the only one that is what was written
        "99999999": "ours",  # no such record (any more)
    }
    for record_id, value in entries.items():
        stage.state.add(
            StoredRecord(record_id, run.account, "example.test", APEX, value, owner=dead)
        )
    before = len(sim.log)

    run.sweep()

    assert stage.paths("DELETE", before) == [f"/dns-records/{ours.id}"]
    assert stage.paths("GET", before) == ["/dns-records", "/dns-records/99999999"]  # one list
    live = {r.id for r in sim.records() if not r.deleted}
    assert {mx.id, moved.id, changed.id} <= live
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"Not deleting record {record_id}, listed in {stage.state.path} as the TXT record at "
        f"{APEX} that an earlier run wrote: {why}. Its entry is dropped; the record is left as "
        "it is."
        for record_id, why in (
            (mx.id, "the API shows it as type MX, at example.test"),
            (moved.id, f"the API shows it at _acme-challenge.www.example.test, not at {APEX}"),
            (changed.id, f"the TXT record at {APEX} holds another value than the one written"),
        )
    ]
    assert stage.messages == [
        "Cleaning up 1 challenge record(s) an earlier run left behind (interrupted, or its "
        f"cleanup failed): {APEX}"
    ]
    remaining = {e.record_id: e.deleting for e in stage.state.records()}
    assert remaining == {ours.id: True}  # its delete job is queued; the others are dropped


def test_sweep_takes_a_queued_removal_that_the_zone_no_longer_lists_as_done(stage: Stage) -> None:
    """A run killed after its DELETEs were accepted, and the next run at once, while DNS
    still shows the values: the zone's list settles it, with no request per record."""
    run = stage.open()
    dead, sim = dead_owner(), stage.sim
    removed = sim.add_record("example.test", "_acme-challenge", "TXT", "removed")
    stage.state.add(
        StoredRecord(removed.id, run.account, "example.test", APEX, "removed", owner=dead)
    )
    assert not run.client.delete_record(removed.id).job.done  # type: ignore[union-attr]
    stage.state.discard({removed.id})
    stage.state.add(
        StoredRecord(
            removed.id, run.account, "example.test", APEX, "removed", owner=dead, deleting=True
        )
    )
    assert sim.visible(0, APEX) == ["removed"]  # its job is queued: DNS still shows it
    before = len(sim.log)

    run.sweep()

    assert [(e.method, e.path) for e in sim.log[before:]] == [("GET", "/dns-records")]
    assert stage.state.records() == []
    assert stage.messages == []


# -- present --------------------------------------------------------------------------------------


@pytest.mark.parametrize("listing", ["full", "minimal"])
def test_present_writes_every_record_and_switches_the_lock_on_only_where_it_is_off(
    make_stage: MakeStage, listing: Literal["full", "minimal"]
) -> None:
    stage = make_stage(replace(CONFIG, domain_list_presence=listing))
    run = stage.open()

    stage.present(run)

    written = stage.written()
    assert sorted((r.fqdn_ace, r.data) for r in written) == [
        (APEX, "apex-value"),
        (APEX, "wildcard-value"),
        (OTHER, "other-value"),
    ]
    assert stage.paths("PATCH") == ["/domains/example.test"]  # other.test's lock was on
    assert {d.ace: d.update_lock for d in stage.sim.domains()} == {
        "example.test": True,
        "other.test": True,
    }
    assert any("Switched on the DNS update lock of example.test" in m for m in stage.messages)
    # Every id is in the state file before the run goes on (a kill now leaves nothing unknown).
    saved = stage.state.records()
    assert sorted((e.record_id, e.value) for e in saved) == sorted((r.id, r.data) for r in written)
    jobs = {r.id: r.create_job for r in written}
    assert all(e.job_id == jobs[e.record_id] for e in saved)
    assert {(e.account, e.owner) for e in saved} == {(run.account, run.owner)}


@pytest.mark.parametrize("listing", ["full", "minimal"])
def test_a_second_present_of_the_run_asks_nothing_about_the_lock_again(
    make_stage: MakeStage, listing: Literal["full", "minimal"]
) -> None:
    """The run lists the domains once; what it learned about a lock, or did to it, holds for
    the rest of the run (a second PATCH of the same lock was sent before)."""
    stage = make_stage(replace(CONFIG, domain_list_presence=listing))
    run = stage.open()
    placements = run.plan(NAMES)
    run.present([(placements[0], "apex")])  # example.test: its lock is switched on
    before = len(stage.sim.log)

    run.present([(placements[1], "wildcard")])  # example.test again

    assert [e.method for e in stage.sim.log[before:]] == ["POST"]
    assert stage.paths("PATCH") == ["/domains/example.test"]


def test_a_refused_write_stops_present_and_leaves_only_what_was_written(stage: Stage) -> None:
    run = stage.open()
    placements = run.plan(NAMES)
    # Between planning and writing, someone puts a CNAME where the third record must go.
    stage.sim.add_record("other.test", "_acme-challenge.www", "CNAME", "elsewhere.test.")

    with pytest.raises(ValidationError, match="CNAME"):
        run.present(list(zip(placements, VALUES, strict=True)))

    written = stage.written()
    assert len(written) == 2
    assert sorted(e.record_id for e in stage.state.records()) == sorted(r.id for r in written)
    assert run.remove() == []
    assert sorted(stage.paths("DELETE")) == sorted(f"/dns-records/{r.id}" for r in written)


# -- wait -----------------------------------------------------------------------------------------


def test_wait_returns_as_soon_as_every_server_shows_every_value(stage: Stage) -> None:
    run = stage.open()
    stage.present(run)
    start = stage.clock.monotonic()
    rounds: list[PropagationStatus] = []

    run.wait(on_round=rounds.append)

    # ns2 shows the last record JOB_DELAY + NS2_DELAY after the POSTs: not one round later.
    assert stage.clock.monotonic() - start == JOB_DELAY + NS2_DELAY
    assert rounds[-1].done
    assert rounds[-1].total == 2 * len(VALUES)
    _, ns2 = run.settings.nameservers or ()
    assert [s.server for s in rounds[-2].lagging] == [ns2]
    # DNS told everything, so the job queue was never asked.
    assert not [path for path in stage.paths("GET") if path.startswith("/queue-jobs")]


def test_wait_times_out_naming_the_server_that_lags(make_stage: MakeStage) -> None:
    stale = SimNameServer("ns2.variomedia.test", publish=False)
    stage = make_stage(replace(CONFIG, nameservers=(CONFIG.nameservers[0], stale)))
    run = stage.open(propagation_timeout=2.0)
    stage.present(run)
    start = stage.clock.monotonic()

    with pytest.raises(PropagationError) as raised:
        run.wait()

    assert stage.clock.monotonic() - start == 2.0
    message = str(raised.value)
    ns1, ns2 = stage.sim.nameservers
    assert f"lagging: {ns2}\n" in message
    assert ns1 not in message
    assert "raise --dns-variomedia-propagation-seconds (now 2)" in message


@pytest.mark.parametrize(
    ("seconds", "blamed"),
    [
        (0.0, "the wait ended after 0 s, too soon for the queue; raise "
              "--dns-variomedia-propagation-seconds (now 0; the default, 300, leaves it time)."),
        (90.0, "the API is slow right now; try again later."),
    ],
)  # fmt: skip
def test_a_timeout_with_jobs_still_queued_blames_the_setting_or_the_api(
    stage: Stage, seconds: float, blamed: str
) -> None:
    stage.sim.faults.stick_jobs(method="POST")
    run = stage.open(propagation_timeout=seconds)
    stage.present(run, NAMES[:1])
    (entry,) = stage.state.records()

    with pytest.raises(PropagationError) as raised:
        run.wait()

    message = str(raised.value)
    assert message.endswith(
        f"Variomedia's queue has not carried out job(s) {entry.job_id} yet, so the record(s) "
        f"were not published: {blamed}"
    )


def test_a_given_server_that_is_not_authoritative_is_named_within_three_rounds(
    stage: Stage,
) -> None:
    stage.sim.dns_servers[1].behaviour = "non-authoritative"  # a resolver, a forwarder
    run = stage.open()  # --dns-variomedia-nameservers: both of the simulator's servers
    stage.present(run, NAMES[:1])
    start = stage.clock.monotonic()

    with pytest.raises(NotAuthoritativeError) as raised:
        run.wait()

    assert stage.clock.monotonic() - start == 2 * INTERVAL  # the third round, not 300 s
    _, ns2 = run.settings.nameservers or ()
    assert str(raised.value) == (
        f"The name server {ns2}, given with --dns-variomedia-nameservers, is not authoritative for "
        "example.test: it answers without the AA bit, as a recursive resolver or a forwarder "
        "does, so it cannot tell what example.test's own name servers show, however long one "
        "waits. Give example.test's authoritative name servers in --dns-variomedia-nameservers "
        "(`dig +short NS example.test` lists them), or leave --dns-variomedia-nameservers out: "
        "they are then found from the NS records."
    )


def test_a_lame_server_among_the_zones_ns_records_is_named_within_three_rounds(
    make_stage: MakeStage,
) -> None:
    # Found as on the Internet: NS records name ns1 and ns2, their A records 127.0.0.2 and .3.
    stage = make_stage(replace(CONFIG, dns_addresses=("127.0.0.2", "127.0.0.3")))
    port = stage.sim.dns_servers[0].port
    resolver = Resolver(bootstrap=[NameServer("127.0.0.2", "127.0.0.2", port)], port=port)
    stage.sim.dns_servers[1].behaviour = "non-authoritative"
    run = stage.open(resolver, nameservers=None)
    stage.present(run, NAMES[2:])
    start = stage.clock.monotonic()

    with pytest.raises(NotAuthoritativeError) as raised:
        run.wait()

    assert stage.clock.monotonic() - start == 2 * INTERVAL
    lame = NameServer("ns2.variomedia.test", "127.0.0.3", port)
    assert raised.value.server == lame
    assert str(raised.value).startswith(
        f"The name server {lame}, one of those in the NS records of other.test, is not "
        "authoritative for it: it answers without the AA bit (a lame delegation)"
    )
    assert "Remove it from other.test's NS records" in str(raised.value)


def test_a_failed_job_is_reported_at_the_first_look_at_the_queue(stage: Stage) -> None:
    stage.sim.faults.fail_jobs(method="POST")
    run = stage.open(first_job_poll=4.0)  # propagation_timeout stays at 300 s
    stage.present(run, NAMES[:1])
    (entry,) = stage.state.records()
    start = stage.clock.monotonic()

    with pytest.raises(JobError) as raised:
        run.wait()

    assert 4.0 <= stage.clock.monotonic() - start <= 4.0 + INTERVAL
    assert f"queue job {entry.job_id} for the TXT record at {APEX}" in str(raised.value)
    assert "ended with status 'failed'" in str(raised.value)
    assert stage.sim.counters.by_route["GET /queue-jobs"] == 1


# -- remove ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("delete_answer", ["pending", "done"])
def test_remove_deletes_exactly_what_the_run_wrote(
    make_stage: MakeStage, delete_answer: Literal["pending", "done"]
) -> None:
    stage = make_stage(replace(CONFIG, delete_answer=delete_answer))
    someone_elses = stage.sim.add_record("example.test", "_acme-challenge", "TXT", "not-ours")
    run = stage.open()
    stage.present(run)
    ours = [r.id for r in stage.written()]
    # One of the run's records is deleted behind its back: "already gone" is success.
    headers = {"Authorization": f"token {stage.sim.token}"}
    gone = requests.delete(f"{stage.sim.url}/dns-records/{ours[0]}", headers=headers, timeout=5)
    assert gone.ok, gone.text
    since = len(stage.sim.log)

    assert run.remove() == []

    assert sorted(stage.paths("DELETE", since)) == sorted(f"/dns-records/{i}" for i in ours)
    assert [r.id for r in stage.sim.records() if not r.deleted and r.source != "base"] == [
        someone_elses.id
    ]
    assert run.written == []
    entries = stage.state.records()
    if delete_answer == "pending":  # kept until the next run sees the records gone from DNS
        assert sorted(e.record_id for e in entries) == sorted(ours[1:])
        assert all(e.deleting and e.job_id for e in entries)
    else:
        assert entries == []


def test_remove_never_raises_and_keeps_what_it_could_not_remove(stage: Stage) -> None:
    run = stage.open()
    stage.present(run)
    stage.sim.faults.server_errors(100, method="DELETE")

    problems = run.remove()

    ours = {r.id: r.fqdn_ace for r in stage.written()}
    assert len(problems) == len(ours)
    for record_id, fqdn in ours.items():
        assert any(p.startswith(f"record {record_id} at {fqdn}: ") for p in problems)
    entries = stage.state.records()
    assert sorted(e.record_id for e in entries) == sorted(ours)
    assert not any(e.deleting for e in entries)  # the next run's sweep deletes them
