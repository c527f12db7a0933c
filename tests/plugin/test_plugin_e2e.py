"""The plugin for real: a certbot process, Pebble, and the simulator with two name servers.

Pebble validates against the slowest simulated name server, so a certificate is only issued if
the plugin waited until every server had every record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from certbot_dns_variomedia.paths import PLUGIN_STATE_FILE_NAME
from certbot_dns_variomedia.testing.demo.sandbox import DEMO_CONFIG, Sandbox, certificate_names
from certbot_dns_variomedia.testing.variomedia.simulator import (
    RecordSnapshot,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

# scripts/python-tests runs these under every supported Python.
pytestmark = [pytest.mark.e2e, pytest.mark.front_doors]

CONFIG = replace(
    DEMO_CONFIG,
    domains=(*DEMO_CONFIG.domains, SimDomain("acme-delegation.test")),
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.8),
    ),
    job_delay=0.3,
)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, CONFIG) as box:
        yield box


def sandbox_with(tmp_path: Path, nameservers: tuple[SimNameServer, ...]) -> Sandbox:
    return Sandbox(tmp_path, replace(CONFIG, nameservers=nameservers))


def challenge_records(sim: VariomediaSimulator) -> list[RecordSnapshot]:
    """Records of ours still in the account (deleted ones are gone from the API)."""
    return [r for r in sim.records() if r.name.startswith("_acme-challenge") and not r.deleted]


def other_records(sim: VariomediaSimulator) -> list[tuple[str, str, str, str, bool]]:
    return sorted(
        (r.id, r.fqdn, r.record_type, r.data, r.deleted)
        for r in sim.records()
        if not r.name.startswith("_acme-challenge")
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    """What the user saw: certbot writes notices to stdout and errors to stderr."""
    return result.stdout + result.stderr


def assert_clean_log(box: Sandbox) -> None:
    """No token in certbot's log; the state file lists nothing but removals still queued."""
    log = (box.logs_dir / "letsencrypt.log").read_text()
    assert box.sim.token not in log
    state = box.work_dir / PLUGIN_STATE_FILE_NAME
    if state.exists():
        entries = json.loads(state.read_text())["records"]
        deleted = {r.id for r in box.sim.records() if r.deleted}
        assert all(e["deleting"] and e["record_id"] in deleted for e in entries), entries


def test_apex_wildcard_and_second_zone_issue_and_renew(sandbox: Sandbox) -> None:
    untouched = other_records(sandbox.sim)
    domains = ["example.test", "*.example.test", "www.other.test"]

    result = sandbox.certonly(domains, cert_name="multi")

    assert result.returncode == 0, output(result)
    assert certificate_names(sandbox.live("multi") / "cert.pem") == domains
    assert challenge_records(sandbox.sim) == []
    assert other_records(sandbox.sim) == untouched
    assert sandbox.sim.counters.too_many_requests == 0
    # 1 domain list + 2 lock switches + 3 writes + 3 deletes: within one 10-request window.
    assert sandbox.sim.counters.total <= 10, sandbox.sim.counters.by_route
    assert "Creating 3 TXT record(s) in example.test, other.test" in output(result)
    assert "Waiting until every authoritative name server shows the records" in output(result)
    assert "All 3 TXT record(s) are visible on every authoritative name server" in output(result)
    log = (sandbox.logs_dir / "letsencrypt.log").read_text()
    slow_server = sandbox.sim.nameservers[1]
    # INFO while waiting, DEBUG for every request (method, path, status; never a header).
    assert f"Waiting for {slow_server}: 0 of 3 records visible" in log
    assert "POST /dns-records -> 202" in log
    assert_clean_log(sandbox)

    sandbox.sim.counters.reset()
    renewal = sandbox.run_certbot("renew", "--force-renewal", "--no-random-sleep-on-renew")

    assert renewal.returncode == 0, output(renewal)
    assert "Congratulations, all renewals succeeded" in output(renewal)
    assert len(list((sandbox.config_dir / "archive" / "multi").glob("cert*.pem"))) == 2
    assert challenge_records(sandbox.sim) == []
    assert other_records(sandbox.sim) == untouched
    # The locks are on now: no PATCH at renewal.
    assert not any(route.startswith("PATCH") for route in sandbox.sim.counters.by_route)
    renewal_conf = (sandbox.config_dir / "renewal" / "multi.conf").read_text()
    assert "dns_variomedia_credentials" in renewal_conf
    assert sandbox.sim.token not in renewal_conf


def test_a_relative_credentials_path_is_saved_absolute_so_renewal_runs_from_root(
    sandbox: Sandbox,
) -> None:
    relative = [
        sandbox.credentials.name if arg == str(sandbox.credentials) else arg
        for arg in sandbox.plugin_args()
    ]
    issued = sandbox.run_certbot(
        "certonly", *relative, "--cert-name", "relative", "-d", "example.test", cwd=sandbox.root
    )
    assert issued.returncode == 0, output(issued)
    conf = (sandbox.config_dir / "renewal" / "relative.conf").read_text()
    assert f"dns_variomedia_credentials = {sandbox.credentials}\n" in conf
    # As cron and systemd run it: from /, where the relative name means /variomedia.ini.
    renewal = sandbox.run_certbot("renew", "--force-renewal", "--no-random-sleep-on-renew", cwd="/")
    assert renewal.returncode == 0, output(renewal)
    assert "Congratulations, all renewals succeeded" in output(renewal)


def test_update_lock_off_leaves_the_domain_alone(sandbox: Sandbox) -> None:
    result = sandbox.certonly(
        ["example.test"], cert_name="nolock", extra=["--dns-variomedia-update-lock", "off"]
    )
    assert result.returncode == 0, output(result)
    assert not any(d.update_lock for d in sandbox.sim.domains())
    assert not any(
        route.startswith(("PATCH", "GET /domains/")) for route in sandbox.sim.counters.by_route
    )


def test_cname_delegation_writes_in_the_target_zone(sandbox: Sandbox) -> None:
    sandbox.sim.add_record(
        "example.test",
        "_acme-challenge",
        "CNAME",
        "_acme-challenge.example.test.acme-delegation.test",
    )
    result = sandbox.certonly(["example.test", "*.example.test"], cert_name="delegated")
    assert result.returncode == 0, output(result)
    written = [r for r in sandbox.sim.records() if r.record_type == "TXT" and r.source == "api"]
    assert {r.domain for r in written} == {"acme-delegation.test"}
    assert {r.name for r in written} == {"_acme-challenge.example.test"}
    assert all(r.deleted for r in written)


def test_name_outside_the_account_fails_before_writing(sandbox: Sandbox) -> None:
    result = sandbox.certonly(["example.test", "www.example.org"], cert_name="outside")
    assert result.returncode != 0
    assert "www.example.org is not in a domain of this Variomedia account" in output(result)
    assert "example.test, other.test" in output(result)
    assert not any(route.startswith("POST") for route in sandbox.sim.counters.by_route)
    assert_clean_log(sandbox)


def test_refused_token_names_the_credentials_file(sandbox: Sandbox) -> None:
    sandbox.write_credentials(sandbox.credentials, token="not-the-right-token-0000")
    result = sandbox.certonly(["example.test"], cert_name="badtoken")
    assert result.returncode != 0
    assert "The API token was refused" in output(result)
    assert f"dns_variomedia_token in {sandbox.credentials}" in output(result)
    assert "not-the-right-token-0000" not in (sandbox.logs_dir / "letsencrypt.log").read_text()


def test_dns_that_never_shows_the_record_times_out_and_cleans_up(tmp_path: Path) -> None:
    servers = (
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.0, publish=False),
    )
    with sandbox_with(tmp_path, nameservers=servers) as box:
        started = time.monotonic()
        result = box.certonly(
            ["example.test", "*.example.test"],
            cert_name="never",
            extra=["--dns-variomedia-propagation-seconds", "3"],
        )
        elapsed = time.monotonic() - started
        assert result.returncode != 0
        port = box.sim.nameservers[1]
        assert port in output(result)
        assert "--dns-variomedia-propagation-seconds" in output(result)
        assert challenge_records(box.sim) == []
        assert elapsed < 60
        assert_clean_log(box)


def test_failing_queue_job_is_reported_and_cleaned_up(sandbox: Sandbox) -> None:
    sandbox.sim.faults.fail_jobs(1, method="POST")
    result = sandbox.certonly(
        ["example.test"], cert_name="jobfail", extra=["--dns-variomedia-propagation-seconds", "30"]
    )
    assert result.returncode != 0
    assert "ended with status 'failed'" in output(result)
    assert challenge_records(sandbox.sim) == []
    assert_clean_log(sandbox)


def test_a_429_storm_is_waited_out(sandbox: Sandbox) -> None:
    sandbox.sim.faults.rate_limit_storm(2, retry_after=1)
    result = sandbox.certonly(["example.test"], cert_name="storm")
    assert result.returncode == 0, output(result)
    assert sandbox.sim.counters.too_many_requests == 2
    assert challenge_records(sandbox.sim) == []


def test_a_killed_run_is_cleaned_up_by_the_next(sandbox: Sandbox) -> None:
    slow_server = sandbox.sim.dns_servers[1]
    slow_server.behaviour = "timeout"  # the wait cannot end while this server is silent
    proc = subprocess.Popen(
        sandbox.certbot_command(
            "certonly",
            *sandbox.plugin_args(propagation_seconds=120),
            "--cert-name",
            "killed",
            "-d",
            "example.test",
            "-d",
            "*.example.test",
        ),
        env=sandbox.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(challenge_records(sandbox.sim)) < 2:
            assert time.monotonic() < deadline, "certbot never wrote its records"
            assert proc.poll() is None, "certbot ended early"
            time.sleep(0.1)
        time.sleep(0.5)  # certbot is in the DNS wait now
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    left = challenge_records(sandbox.sim)
    assert len(left) == 2
    state = json.loads((sandbox.work_dir / PLUGIN_STATE_FILE_NAME).read_text())
    assert sorted(r["record_id"] for r in state["records"]) == sorted(r.id for r in left)

    # The server recovers; the next run removes the leftovers first, by id, then issues.
    slow_server.behaviour = "normal"
    sandbox.sim.counters.reset()
    result = sandbox.certonly(["example.test"], cert_name="after-kill")

    assert result.returncode == 0, output(result)
    assert "an earlier run left behind" in output(result)
    assert challenge_records(sandbox.sim) == []
    deleted = [r for r in sandbox.sim.records() if r.id in {x.id for x in left}]
    assert all(r.deleted for r in deleted)
    assert_clean_log(sandbox)


def test_sigterm_while_waiting_cleans_up_at_once(sandbox: Sandbox) -> None:
    sandbox.sim.dns_servers[1].behaviour = "timeout"
    proc = subprocess.Popen(
        sandbox.certbot_command(
            "certonly",
            *sandbox.plugin_args(propagation_seconds=120),
            "--cert-name",
            "term",
            "-d",
            "example.test",
        ),
        env=sandbox.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not challenge_records(sandbox.sim):
            assert time.monotonic() < deadline, "certbot never wrote its record"
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode != 0
    assert challenge_records(sandbox.sim) == []
