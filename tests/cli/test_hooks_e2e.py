"""The manual hooks for real: ``certbot certonly --manual`` with our hooks, Pebble, the simulator.

Pebble validates against the slowest simulated name server, so the certificate is only issued
if the last auth hook waited until every server had both records.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from certbot_dns_variomedia.testing.demo.sandbox import DEMO_CONFIG, Sandbox, certificate_names
from certbot_dns_variomedia.testing.variomedia.simulator import SimNameServer, VariomediaSimulator

from .conftest import SCRIPT

# scripts/python-tests runs these under every supported Python.
pytestmark = [pytest.mark.e2e, pytest.mark.front_doors]

CONFIG = replace(
    DEMO_CONFIG,
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.8),
    ),
    job_delay=0.3,
)
CHALLENGE = "_acme-challenge.example.test"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, CONFIG) as box:
        yield box


def hook(box: Sandbox, kind: str, state_file: Path) -> str:
    return shlex.join(
        [
            SCRIPT,
            f"certbot-{kind}",
            "--credentials",
            str(box.credentials),
            "--nameservers",
            box.nameservers_option,
            "--state-file",
            str(state_file),
            *(["--propagation-seconds", "30"] if kind == "auth" else []),
        ]
    )


def other_records(sim: VariomediaSimulator) -> list[tuple[str, str, str, str, bool]]:
    return sorted(
        (r.id, r.fqdn, r.record_type, r.data, r.deleted)
        for r in sim.records()
        if not r.name.startswith("_acme-challenge")
    )


def live_challenges(sim: VariomediaSimulator) -> list[str]:
    return [r.id for r in sim.records() if r.name.startswith("_acme-challenge") and not r.deleted]


def wait_until_withdrawn(sim: VariomediaSimulator, timeout: float = 10.0) -> None:
    """Deleted records leave DNS once their job is done plus each server's delay."""
    deadline = time.monotonic() + timeout
    while any(sim.visible(i, CHALLENGE) for i in range(len(sim.nameservers))):
        assert time.monotonic() < deadline, "a deleted challenge record is still served"
        time.sleep(0.1)


def test_certbot_manual_hooks_issue_apex_and_wildcard_with_one_wait_and_renew(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state_file = tmp_path / "hooks-state.json"
    untouched = other_records(sandbox.sim)
    result = sandbox.run_certbot(
        "certonly",
        "--manual",
        "--preferred-challenges",
        "dns",
        "--manual-auth-hook",
        hook(sandbox, "auth", state_file),
        "--manual-cleanup-hook",
        hook(sandbox, "cleanup", state_file),
        "--cert-name",
        "hooks",
        "--key-type",
        "ecdsa",
        "-d",
        "example.test",
        "-d",
        "*.example.test",
    )
    shown = result.stdout + result.stderr
    assert result.returncode == 0, shown
    assert certificate_names(sandbox.live("hooks") / "cert.pem") == [
        "example.test",
        "*.example.test",
    ]
    # Two auth calls, one wait: the first noted its challenge, the last wrote both and waited;
    # the first cleanup call left the removals to the last (and said nothing).
    assert shown.count("ran with output") == 3
    assert "noted; 1 more to come" in shown
    assert shown.count("Waiting up to") == 1
    assert "until 2 TXT record(s) are visible on every authoritative name server" in shown
    assert "error output" not in shown  # certbot shows a hook's stderr as a warning
    # What the plugin spends: the domain list once, one PATCH, one POST and one DELETE each.
    assert sandbox.sim.counters.by_route == {
        "GET /domains": 1,
        "PATCH /domains/{name}": 1,
        "POST /dns-records": 2,
        "DELETE /dns-records/{id}": 2,
    }
    # Exactly our two records were written and deleted; nothing else was touched.
    posts = [e for e in sandbox.sim.log if e.method == "POST"]
    deletes = sorted(e.path for e in sandbox.sim.log if e.method == "DELETE")
    created = sorted(f"/dns-records/{r.id}" for r in sandbox.sim.records() if r.source == "api")
    assert (len(posts), deletes) == (2, created)
    assert live_challenges(sandbox.sim) == []
    assert other_records(sandbox.sim) == untouched
    wait_until_withdrawn(sandbox.sim)
    log = (sandbox.logs_dir / "letsencrypt.log").read_text()
    assert sandbox.sim.token not in log
    # What the state file still lists are removals that were queued, nothing else.
    entries = json.loads(state_file.read_text())["records"] if state_file.exists() else []
    assert all(e["deleting"] for e in entries), entries

    # certbot renew runs the saved hooks; its sweep confirms the earlier removals in DNS
    # without a request, and this run again writes and deletes exactly two records (after a
    # few seconds' pause: the first run's requests still fill the shared 10-per-10-s window).
    # A sweep whose DNS check times out on a loaded machine repeats the first run's DELETEs
    # by id; the API answers 404 ("already gone"), which is allowed and nothing else is.
    first_run = set(created)
    mark = len(sandbox.sim.log)
    sandbox.sim.counters.reset()
    renewal = sandbox.run_certbot("renew", "--force-renewal", "--no-random-sleep-on-renew")
    shown = renewal.stdout + renewal.stderr
    assert renewal.returncode == 0, shown
    assert "Congratulations, all renewals succeeded" in shown
    requests = sandbox.sim.log[mark:]
    renewal_posts = [e for e in requests if e.method == "POST"]
    renewal_deletes = [e for e in requests if e.method == "DELETE"]
    renewed = sorted(
        f"/dns-records/{r.id}"
        for r in sandbox.sim.records()
        if r.source == "api" and f"/dns-records/{r.id}" not in first_run
    )
    # Pebble may hand the apex's authorization, still valid, out again: then certbot performs
    # one challenge, not two. One record per challenge it performed, in either case.
    performed = (sandbox.logs_dir / "letsencrypt.log").read_text().count("Running manual-auth-hook")
    assert performed in (1, 2)
    assert len(renewal_posts) == performed, (sandbox.sim.counters.by_route, shown)
    assert sandbox.sim.counters.by_route["GET /domains"] == 1  # a new run lists again, once
    assert "PATCH /domains/{name}" not in sandbox.sim.counters.by_route  # the lock is on
    assert sorted(e.path for e in renewal_deletes if e.path not in first_run) == renewed, shown
    repeated = [(e.path, e.status) for e in renewal_deletes if e.path in first_run]
    assert all(status == 404 for _, status in repeated), repeated
    assert live_challenges(sandbox.sim) == []
    assert other_records(sandbox.sim) == untouched
    assert sandbox.sim.counters.too_many_requests == 0
