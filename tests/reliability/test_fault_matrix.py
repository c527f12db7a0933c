"""The fault matrix: real certbot, Pebble and the Variomedia simulator, one fault per row.

Each test declares its row (what the user sees, how many API requests at most, how many 429s,
all of them injected) and proves it with `Stage.verify_fault`, which also proves that nothing
the plugin wrote is left, in the account or in DNS, that no record was created twice, that the
records of others are untouched, and that the token is in no file and no output.
"""

from __future__ import annotations

import signal
import time
from dataclasses import replace

import pytest

from certbot_dns_variomedia.testing.variomedia.simulator import SimNameServer

from .conftest import MakeStage
from .harness import CONFIG, Stage, output
from .rows import FaultRow, Run, declare

pytestmark = pytest.mark.e2e

ISSUED = "Successfully received certificate"
TWO = ["example.test", "*.example.test"]  # two values at one name: the classic wildcard order
# A queue slower than the plugin's first look at it (4 s): the job poll is part of the run.
SLOW_QUEUE = replace(CONFIG, job_delay=5.0)


def run_once(
    stage: Stage, domains: list[str], propagation: int = 20
) -> list[tuple[int | None, str]]:
    result = stage.certonly(domains, cert_name="row", propagation=propagation)
    return [(result.returncode, output(result))]


# -- the API refuses or fails ------------------------------------------------------------------


@declare(
    FaultRow(
        fault="429 storm: the API answers 429 (Retry-After: 1) to three requests in a row",
        made_by="sim.faults.rate_limit_storm(3, retry_after=1)",
        runs=(Run("issued", (ISSUED,)),),
        requests=(9, 9),
        rate_limited=(3, 3),
    )
)
def test_429_storm_is_waited_out(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.rate_limit_storm(3, retry_after=1)
    stage.verify_fault(row, run_once(stage, TWO))


@declare(
    FaultRow(
        fault="429 storm that does not end (Retry-After: 1 on every request)",
        made_by="sim.faults.rate_limit_storm(1000, retry_after=1)",
        runs=(
            Run(
                "failed",
                (
                    "The Variomedia API kept refusing requests for exceeding its rate limit "
                    "(asked to wait 1 s). Another program using the API from this machine's "
                    "address may be the cause; try again in a few minutes.",
                ),
            ),
        ),
        requests=(5, 5),
        rate_limited=(5, 5),
    )
)
def test_endless_429_storm_stops_after_five_tries(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.rate_limit_storm(1000, retry_after=1)
    stage.verify_fault(row, run_once(stage, ["example.test"]))


@declare(
    FaultRow(
        fault="429 asking to come back in an hour (Retry-After: 3600)",
        made_by="sim.faults.rate_limit_storm(1000, retry_after=3600)",
        runs=(
            Run(
                "failed",
                ("kept refusing requests for exceeding its rate limit (asked to wait 3600 s)",),
            ),
        ),
        requests=(1, 1),
        rate_limited=(1, 1),
    )
)
def test_429_with_a_long_retry_after_is_not_waited_out(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.rate_limit_storm(1000, retry_after=3600)
    stage.verify_fault(row, run_once(stage, ["example.test"]))


@declare(
    FaultRow(
        fault="5xx burst on create: two 503s to POST /dns-records, nothing committed",
        made_by='sim.faults.server_errors(2, method="POST", path="/dns-records")',
        runs=(Run("issued", (ISSUED,)),),
        requests=(10, 10),
    )
)
def test_5xx_burst_on_create(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.server_errors(2, method="POST", path="/dns-records")
    stage.verify_fault(row, run_once(stage, ["example.test"]))


@declare(
    FaultRow(
        fault="5xx burst on the job poll: two 503s to GET /queue-jobs (queue slower than 4 s)",
        made_by='job_delay=5; sim.faults.server_errors(2, path="/queue-jobs")',
        runs=(Run("issued", (ISSUED,)),),
        requests=(7, 9),
    )
)
def test_5xx_burst_on_job_poll(make_stage: MakeStage, row: FaultRow) -> None:
    stage = make_stage(SLOW_QUEUE)
    stage.sim.faults.server_errors(2, path="/queue-jobs")
    stage.verify_fault(row, run_once(stage, ["example.test"]))
    assert stage.sim.counters.by_status.get(503) == 2


@declare(
    FaultRow(
        fault="5xx burst on delete: two 503s to DELETE /dns-records/{id}",
        made_by='sim.faults.server_errors(2, method="DELETE")',
        runs=(Run("issued", (ISSUED,)),),
        requests=(8, 8),
    )
)
def test_5xx_burst_on_delete(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.server_errors(2, method="DELETE")
    stage.verify_fault(row, run_once(stage, TWO))


@declare(
    FaultRow(
        fault="Connection reset after a POST was committed (the record exists, no answer came)",
        made_by="sim.faults.drop_after_commit(1)",
        runs=(Run("issued", (ISSUED,)),),
        requests=(7, 7),
    )
)
def test_connection_reset_after_committed_post(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.drop_after_commit(1)
    stage.verify_fault(row, run_once(stage, TWO))


@declare(
    FaultRow(
        fault="500 after a POST was committed",
        made_by="sim.faults.error_after_commit(1, status=500)",
        runs=(Run("issued", (ISSUED,)),),
        requests=(5, 5),
    )
)
def test_500_after_committed_post(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.error_after_commit(1, status=500)
    stage.verify_fault(row, run_once(stage, ["example.test"]))


@declare(
    FaultRow(
        fault="Truncated JSON in the answer to a committed POST",
        made_by='sim.faults.truncate_json(1, method="POST", path="/dns-records")',
        runs=(Run("issued", (ISSUED,)),),
        requests=(5, 5),
    )
)
def test_truncated_json_after_committed_post(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.truncate_json(1, method="POST", path="/dns-records")
    stage.verify_fault(row, run_once(stage, ["example.test"]))


@declare(
    FaultRow(
        fault="HTML error pages (502 from a proxy) instead of JSON:API, twice",
        made_by="sim.faults.html_errors(2)",
        runs=(Run("issued", (ISSUED,)),),
        requests=(6, 6),
    )
)
def test_html_error_pages(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.html_errors(2)
    stage.verify_fault(row, run_once(stage, ["example.test"]))


@declare(
    FaultRow(
        fault="HTML error pages that do not stop",
        made_by="sim.faults.html_errors(1000)",
        runs=(
            Run(
                "failed",
                (
                    "The Variomedia API answered GET /domains with status 502 and an HTML page. "
                    "It may be having problems; try again later.",
                ),
            ),
        ),
        requests=(5, 5),
    )
)
def test_endless_html_error_pages(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.html_errors(1000)
    stage.verify_fault(row, run_once(stage, ["example.test"]))


# -- the queue ---------------------------------------------------------------------------------


@declare(
    FaultRow(
        fault="A queue job that fails (the record is never published)",
        made_by='sim.faults.fail_jobs(1, method="POST")',
        runs=(Run("failed", ("ended with status 'failed': the record was not published",)),),
        requests=(6, 6),
    )
)
def test_failing_job(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.fail_jobs(1, method="POST")
    stage.verify_fault(row, run_once(stage, ["example.test"]))


@declare(
    FaultRow(
        fault="A queue job that never finishes",
        made_by='sim.faults.stick_jobs(1, method="POST"); --dns-variomedia-propagation-seconds 6',
        runs=(Run("failed", ("Variomedia's queue has not carried out job(s)",)),),
        requests=(6, 7),
    )
)
def test_job_that_never_finishes(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.stick_jobs(1, method="POST")
    stage.verify_fault(row, run_once(stage, ["example.test"], propagation=6))


# -- the name servers --------------------------------------------------------------------------


@declare(
    FaultRow(
        fault="One name server never gets the record",
        made_by="SimNameServer(publish=False); --dns-variomedia-propagation-seconds 4",
        runs=(
            Run(
                "failed",
                (
                    "The TXT records are not visible on every authoritative name server after 4 s",
                    "lagging: {ns2}",
                    "raise --dns-variomedia-propagation-seconds (now 4)",
                ),
            ),
        ),
        requests=(6, 6),
    )
)
def test_name_server_never_gets_the_record(make_stage: MakeStage, row: FaultRow) -> None:
    stale = (CONFIG.nameservers[0], SimNameServer("ns2.variomedia.test", publish=False))
    stage = make_stage(replace(CONFIG, nameservers=stale))
    stage.verify_fault(row, run_once(stage, TWO, propagation=4))


@declare(
    FaultRow(
        fault="A name server that times out",
        made_by='sim.dns_servers[1].behaviour = "timeout"; propagation 4 s',
        runs=(
            Run(
                "failed",
                ("{ns2}: _acme-challenge.example.test: no usable answer (timeout after 3 s)",),
            ),
        ),
        requests=(4, 4),
    )
)
def test_name_server_times_out(stage: Stage, row: FaultRow) -> None:
    stage.sim.dns_servers[1].behaviour = "timeout"
    stage.verify_fault(row, run_once(stage, ["example.test"], propagation=4))


@declare(
    FaultRow(
        fault="A name server that answers SERVFAIL",
        made_by='sim.dns_servers[1].behaviour = "servfail"; propagation 4 s',
        runs=(
            Run("failed", ("{ns2}: _acme-challenge.example.test: no usable answer (SERVFAIL)",)),
        ),
        requests=(4, 4),
    )
)
def test_name_server_servfail(stage: Stage, row: FaultRow) -> None:
    stage.sim.dns_servers[1].behaviour = "servfail"
    stage.verify_fault(row, run_once(stage, ["example.test"], propagation=4))


@declare(
    FaultRow(
        fault="A name server that answers SERVFAIL for a while, then recovers",
        made_by='behaviour = "servfail" until it was asked during the wait, then "normal"',
        runs=(Run("issued", (ISSUED,)),),
        requests=(4, 4),
    )
)
def test_name_server_servfail_then_recovers(stage: Stage, row: FaultRow) -> None:
    server = stage.sim.dns_servers[1]
    server.behaviour = "servfail"
    job = stage.start(stage.command(["example.test"], cert_name="row"), "run")
    try:
        stage.wait_until(lambda: bool(stage.ours()), "the record was written")
        asked = server.queries
        stage.wait_until(lambda: server.queries >= asked + 2, "the server failed twice")
        server.behaviour = "normal"
        status = job.wait(timeout=60)
        stage.verify_fault(row, [(status, job.text())])
    finally:
        job.close()


# -- the process -------------------------------------------------------------------------------


def _kill_while_waiting(stage: Stage, signum: signal.Signals) -> tuple[int | None, str]:
    """certbot waits for a silent server; it gets `signum` once the records are written."""
    server = stage.sim.dns_servers[1]
    server.behaviour = "timeout"
    job = stage.start(stage.command(TWO, cert_name="killed", propagation=120), "killed")
    try:
        stage.wait_until(lambda: len(stage.ours()) == 2, "both records were written")
        asked = server.queries
        stage.wait_until(lambda: server.queries > asked, "certbot was waiting for DNS")
        job.signal(signum)
        status = job.wait(timeout=60)
        text = job.text()
    finally:
        job.close()
    server.behaviour = "normal"
    return status, text


@declare(
    FaultRow(
        fault="SIGTERM while waiting for DNS, then a new run",
        made_by="SIGTERM to certbot once both records are written; then certbot again",
        runs=(Run("killed"), Run("issued", (ISSUED,))),
        requests=(9, 11),
    )
)
def test_sigterm_while_waiting_then_next_run(stage: Stage, row: FaultRow) -> None:
    first = _kill_while_waiting(stage, signal.SIGTERM)
    assert stage.ours() == []  # certbot's own cleanup removed them at once
    second = stage.certonly(["example.test"], cert_name="after")
    stage.verify_fault(row, [first, (second.returncode, output(second))])


@declare(
    FaultRow(
        fault="SIGKILL while waiting for DNS, then a new run",
        made_by="SIGKILL to certbot once both records are written; then certbot again",
        runs=(
            Run("killed"),
            Run(
                "issued",
                (
                    "Cleaning up 2 challenge record(s) an earlier run left behind (interrupted, "
                    "or its cleanup failed): _acme-challenge.example.test, "
                    "_acme-challenge.example.test",
                    ISSUED,
                ),
            ),
        ),
        requests=(10, 10),
    )
)
def test_sigkill_while_waiting_then_next_run(stage: Stage, row: FaultRow) -> None:
    first = _kill_while_waiting(stage, signal.SIGKILL)
    assert len(stage.ours()) == 2  # nobody could clean up: the next run must
    second = stage.certonly(["example.test"], cert_name="after")
    stage.verify_fault(row, [first, (second.returncode, output(second))])


def _kill_while_posting(stage: Stage, signum: signal.Signals) -> tuple[int | None, str]:
    """certbot gets `signum` while the API is still working on its POST: the record is
    created after certbot is gone, and no answer ever told certbot its id."""
    stage.sim.faults.slow(1.5, method="POST")
    job = stage.start(stage.command(["example.test"], cert_name="killed"), "killed")
    try:
        stage.wait_until(lambda: any(e.method == "PATCH" for e in stage.sim.log), "the lock")
        time.sleep(0.5)
        assert not any(e.method == "POST" for e in stage.sim.log), "the POST was answered"
        job.signal(signum)
        status = job.wait(timeout=60)
        text = job.text()
    finally:
        job.close()
    stage.wait_until(lambda: len(stage.created()) == 1, "the API created the record")
    return status, text


@declare(
    FaultRow(
        fault="SIGKILL while a POST is in flight (the API creates the record after certbot "
        "died), then a new run",
        made_by='sim.faults.slow(1.5, method="POST"); SIGKILL 0.5 s into the POST',
        runs=(
            Run("killed"),
            Run(
                "issued",
                (
                    "Cleaning up 1 challenge record(s) an earlier run left behind (interrupted, "
                    "or its cleanup failed): _acme-challenge.example.test",
                    ISSUED,
                ),
            ),
        ),
        requests=(8, 8),
    )
)
def test_sigkill_during_post_then_next_run(stage: Stage, row: FaultRow) -> None:
    first = _kill_while_posting(stage, signal.SIGKILL)
    second = stage.certonly(["example.test"], cert_name="after")
    stage.verify_fault(row, [first, (second.returncode, output(second))])


@declare(
    FaultRow(
        fault="SIGTERM while a POST is in flight, then a new run",
        made_by='sim.faults.slow(1.5, method="POST"); SIGTERM 0.5 s into the POST',
        runs=(
            Run("killed"),
            Run(
                "issued",
                (
                    "Cleaning up 1 challenge record(s) an earlier run left behind (interrupted, "
                    "or its cleanup failed): _acme-challenge.example.test",
                    ISSUED,
                ),
            ),
        ),
        requests=(8, 8),
    )
)
def test_sigterm_during_post_then_next_run(stage: Stage, row: FaultRow) -> None:
    first = _kill_while_posting(stage, signal.SIGTERM)
    second = stage.certonly(["example.test"], cert_name="after")
    stage.verify_fault(row, [first, (second.returncode, output(second))])


@declare(
    FaultRow(
        fault="Two certbot runs for names in one zone at the same time (separate config dirs, "
        "one user, so one pacing ledger for one IP's rate limit)",
        made_by="two certbot processes started together, 3 names each",
        runs=(Run("issued", (ISSUED,)), Run("issued", (ISSUED,))),
        together=True,
        requests=(14, 16),
    )
)
def test_two_runs_at_once_share_the_rate_limit(stage: Stage, row: FaultRow) -> None:
    jobs = [
        stage.start(
            stage.command(names, cert_name=f"run{i}", dirs=stage.root / f"certbot{i}"),
            f"run{i}",
        )
        for i, names in enumerate(
            (
                ["example.test", "*.example.test", "www.example.test"],
                ["a.example.test", "b.example.test", "c.example.test"],
            )
        )
    ]
    try:
        results = [(job.wait(timeout=120), job.text()) for job in jobs]
    finally:
        for job in jobs:
            job.close()
    stage.verify_fault(row, results)
    assert stage.sim.counters.total > 10  # more than one window's worth: pacing was needed
    assert (stage.box.cache_dir / "certbot-dns-variomedia").is_dir()


@declare(
    FaultRow(
        fault="The same two runs by two different users (two cache directories, so two "
        "pacing ledgers for one IP's rate limit): the limit of promise 3",
        made_by="as above, with VARIOMEDIA_DNS_CACHE_DIR different for each run",
        runs=(Run("issued", (ISSUED,)), Run("issued", (ISSUED,))),
        together=True,
        requests=(16, 22),
        rate_limited=(1, 6),
        promises=(1, 2, 4),
        limit="The pacing ledger is per user (root's in /var/cache, everyone else's in "
        "$XDG_CACHE_HOME; never a shared /tmp name), "
        "so runs of different users behind one address can draw 429s; they are waited out as "
        "Retry-After says.",
    )
)
def test_two_runs_with_separate_ledgers_draw_429s(stage: Stage, row: FaultRow) -> None:
    """The control experiment of the row above: without the shared ledger the API's limit is
    hit (and waited out as Retry-After says). Pacing is per user by design: the ledger lives
    in the user's own cache directory, never in a shared /tmp name."""
    jobs = []
    for i, names in enumerate(
        (
            ["example.test", "*.example.test", "www.example.test"],
            ["a.example.test", "b.example.test", "c.example.test"],
        )
    ):
        env = {**stage.box.env(), "VARIOMEDIA_DNS_CACHE_DIR": str(stage.root / f"cache{i}")}
        command = stage.command(names, cert_name=f"run{i}", dirs=stage.root / f"certbot{i}")
        jobs.append(stage.start(command, f"run{i}", env=env))
    try:
        results = [(job.wait(timeout=120), job.text()) for job in jobs]
    finally:
        for job in jobs:
            job.close()
    stage.verify_fault(row, results)


# -- the token ---------------------------------------------------------------------------------


@declare(
    FaultRow(
        fault="The token expires mid-run (401 from then on), then a run with a working token",
        made_by="job_delay=5; sim.faults.expire_token() once the record is written; "
        "sim.faults.clear() before the next run",
        runs=(
            Run(
                "failed",
                (
                    "The API token was refused (401 on GET /queue-jobs): check "
                    "dns_variomedia_token in {credentials}.",
                    "Could not remove a challenge record: record ",
                    "Variomedia support issues new ones. It is listed in {state} and the next "
                    "run removes it.",
                ),
            ),
            Run("issued", ("an earlier run left behind", ISSUED)),
        ),
        requests=(11, 12),
    )
)
def test_token_expires_mid_run(make_stage: MakeStage, row: FaultRow) -> None:
    stage = make_stage(SLOW_QUEUE)
    job = stage.start(stage.command(["example.test"], cert_name="row"), "run")
    try:
        stage.wait_until(lambda: bool(stage.ours()), "the record was written")
        stage.sim.faults.expire_token()
        first = (job.wait(timeout=60), job.text())
    finally:
        job.close()
    # Promise 4: the order's own error is the last word, not the cleanup's.
    assert "The API token was refused (401 on GET /queue-jobs)" in _final_error(first[1])
    stage.sim.faults.clear()
    second = stage.certonly(["example.test"], cert_name="after")
    stage.verify_fault(row, [first, (second.returncode, output(second))])


@declare(
    FaultRow(
        fault="429 storm during cleanup that outlasts the retries, then the next run",
        made_by='sim.faults.rate_limit_storm(5, retry_after=1, method="DELETE")',
        runs=(
            Run(
                "issued",
                (
                    ISSUED,
                    "Could not remove a challenge record",
                    "It is listed in {state} and the next run removes it.",
                ),
            ),
            Run("issued", ("an earlier run left behind", ISSUED)),
        ),
        requests=(13, 13),
        rate_limited=(5, 5),
    )
)
def test_429_storm_during_cleanup(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.rate_limit_storm(5, retry_after=1, method="DELETE")
    first = stage.certonly(["example.test"], cert_name="row")
    assert len(stage.ours()) == 1
    second = stage.certonly(["example.test"], cert_name="after")
    stage.verify_fault(
        row, [(first.returncode, output(first)), (second.returncode, output(second))]
    )


def _final_error(text: str) -> str:
    """The line certbot ends a failed run with (just before its "Ask for help" line)."""
    lines = [line for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("Ask for help"):
            return lines[i - 1]
    return ""
