"""The manual hooks as real processes, run by a stand-in certbot, against the simulator.

The stand-in is a shell script called ``certbot`` that runs each hook command through
``sh -c`` one after the other, as certbot does, and stays alive meanwhile: so the hooks find
it as their owner exactly as they find certbot, and a run that has exited is a dead owner.
The real certbot is in test_hooks_e2e.py. At the end: reading certbot's variables.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from certbot_dns_variomedia.cli.hook_notes import HookCall
from certbot_dns_variomedia.cli.usage import UsageError
from certbot_dns_variomedia.core.state import StateFile, StoredRecord, process_owner
from certbot_dns_variomedia.credentials import account_key
from certbot_dns_variomedia.testing.variomedia.simulator import SimConfig, SimDomain, SimNameServer

from .conftest import FAST, SCRIPT, Account, start_account

STAND_IN = """#!/bin/sh
# Stands in for certbot: runs each hook command in turn through sh -c, as certbot does.
for hook in "$@"; do
    sh -c "$hook"
    echo "[exit $?]"
done
"""


@dataclass
class Run:
    pid: int
    stdout: str
    stderr: str

    @property
    def statuses(self) -> list[int]:
        return [int(line[6:-1]) for line in self.stdout.splitlines() if line.startswith("[exit ")]


@pytest.fixture
def certbot(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "certbot"
    path.parent.mkdir()
    path.write_text(STAND_IN)
    path.chmod(0o755)
    return path


def hook(account: Account, kind: str, domain: str, value: str, remaining: int, *extra: str) -> str:
    variables = [
        f"CERTBOT_DOMAIN={domain}",
        f"CERTBOT_VALIDATION={value}",
        f"CERTBOT_REMAINING_CHALLENGES={remaining}",
    ]
    # The same options for both hooks, as people copy them.
    options = ["--nameservers", account.nameservers, "--propagation-seconds", "20"]
    # Through env(1), a pass-through program the owner search must look past.
    return shlex.join(["env", *variables, SCRIPT, f"certbot-{kind}", *options, *extra])


def run_certbot(certbot: Path, account: Account, *hooks: str) -> Run:
    process = subprocess.Popen(
        [str(certbot), *hooks],
        env=account.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # one process group: stopped as a whole on a timeout
    )
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the hook that waits on, too
        process.communicate()
        raise
    return Run(process.pid, out, err)


def created(account: Account) -> list[str]:
    return [r.id for r in account.sim.records() if r.source == "api"]


def routes(account: Account) -> dict[str, int]:
    return account.sim.counters.by_route


@pytest.fixture
def paged_account(
    tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Account]:
    """The command tests' account with its domain list in pages of 2 (the live API pages)."""
    yield from start_account(replace(FAST, page_size=2), tmp_path, cli_env, monkeypatch)


def test_an_order_costs_what_the_plugins_costs_and_only_the_last_calls_work(
    paged_account: Account, certbot: Path
) -> None:
    account = paged_account
    order = [
        ("example.test", "apex"),
        ("*.example.test", "wildcard"),
        ("www.sub.example.test", "s"),
    ]
    auth = [hook(account, "auth", n, v, 2 - i) for i, (n, v) in enumerate(order)]
    cleanup = [hook(account, "cleanup", n, v, 2 - i) for i, (n, v) in enumerate(order)]
    run = run_certbot(certbot, account, *auth, *cleanup)
    assert run.statuses == [0] * 6, run.stderr
    # The list once (two pages), one PATCH per zone, one POST per challenge, one DELETE per
    # record: what the plugin spends on this order, and not a request more.
    assert routes(account) == {
        "GET /domains": 2,
        "PATCH /domains/{name}": 2,
        "POST /dns-records": 3,
        "DELETE /dns-records/{id}": 3,
    }
    ids = created(account)
    deletes = [e.path for e in account.sim.log if e.method == "DELETE"]
    assert sorted(deletes) == sorted(f"/dns-records/{i}" for i in ids)
    assert account.live_challenges() == []
    *noted, last, first_cleanup, second_cleanup, last_cleanup = run.stdout.split("[exit 0]")[:6]
    assert all("noted; " in out and "Creating" not in out for out in noted)
    assert last.count("Waiting up to") == 1
    assert "until 3 TXT record(s) are visible" in last
    assert "All 3 TXT record(s) are visible on all 2 name servers" in last
    # One line per removal, all of them from the order's last cleanup call.
    assert first_cleanup.strip() == second_cleanup.strip() == ""
    assert last_cleanup.count("Removed TXT") == 3
    assert run.stderr == ""  # certbot would show stderr as a warning
    assert not json.loads(account.state_file.read_text()).get("hook_orders")


def test_the_calls_before_the_last_send_nothing_and_note_their_challenge(
    account: Account, certbot: Path
) -> None:
    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "apex", 2),
        hook(account, "auth", "*.example.test", "wildcard", 1),
    )
    assert run.statuses == [0, 0], run.stderr
    assert account.sim.counters.total == 0
    (order,) = json.loads(account.state_file.read_text())["hook_orders"]
    assert order["owner"].partition(":")[0] == str(run.pid)  # the stand-in certbot
    assert order["challenges"] == [["example.test", "apex"], ["*.example.test", "wildcard"]]


def test_every_call_reads_the_state_file_option_alike(
    account: Account, certbot: Path, tmp_path: Path
) -> None:
    """The calls before the last read --state-file before the command's parser is built: in
    either spelling, they note the challenge where the last call looks for it."""
    elsewhere = tmp_path / "elsewhere.json"
    lock = ("--update-lock", "off")
    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "first", 1, f"--state-file={elsewhere}", *lock),
        hook(account, "auth", "example.test", "second", 0, "--state-file", str(elsewhere), *lock),
    )
    assert run.statuses == [0, 0], run.stderr
    assert sorted(r.data for r in account.sim.records() if r.source == "api") == [
        "first",
        "second",
    ]
    assert not account.state_file.exists()  # the default (the environment's) was not used


def test_a_call_before_the_last_that_cannot_note_says_why_in_one_line(
    account: Account, certbot: Path, tmp_path: Path
) -> None:
    """The calls before the last run before the command's parser: their errors still end in
    one message and status 1, never a traceback (a symlinked state file once gave one)."""
    planted = tmp_path / "planted.json"
    planted.symlink_to(tmp_path / "target.json")
    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "apex", 1, "--state-file", str(planted)),
    )
    assert run.statuses == [1]
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [
        f"variomedia-dns: error: The state file {planted} is not used: {planted} is a symbolic "
        "link. Keep it in a directory that belongs to this user (or root) and that no one else "
        "can write."
    ]
    assert not (tmp_path / "target.json").exists()
    assert account.sim.counters.total == 0


def test_a_noted_order_never_serves_another_certbot_run_or_another_order(
    account: Account, certbot: Path
) -> None:
    lock = ("--update-lock", "off")
    # A certbot run that ended after two of three calls: its order is gone with it.
    ended = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "ended-1", 2, *lock),
        hook(account, "auth", "example.test", "ended-2", 1, *lock),
    )
    assert ended.statuses == [0, 0]
    # In one certbot run: an order whose count does not go on where the last one stopped is
    # another order ("first" was the first of two; "second" starts a new order of two).
    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "first", 1, *lock),
        hook(account, "auth", "example.test", "second", 1, *lock),
        hook(account, "auth", "example.test", "third", 0, *lock),
    )
    assert run.statuses == [0, 0, 0], run.stderr
    written = sorted(r.data for r in account.sim.records() if r.source == "api")
    assert written == ["second", "third"]
    assert "All 2 TXT record(s) are visible" in run.stdout
    assert not json.loads(account.state_file.read_text()).get("hook_orders")


def test_without_certbots_count_every_call_is_an_order_of_its_own(account: Account) -> None:
    """Another ACME client may validate and clean up one challenge before the next: a cleanup
    call then removes its own challenge's record and nothing else."""
    for value in ("one", "two"):
        env = {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": value}
        options = ("--nameservers", account.nameservers, "--update-lock", "off")
        auth = account.run("certbot-auth", *options, env=env)
        assert auth.returncode == 0, auth.stderr
        assert "All 1 TXT record(s) are visible" in auth.stdout
    env = {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": "one"}
    cleanup = account.run("certbot-cleanup", env=env)
    assert cleanup.returncode == 0, cleanup.stderr
    live = [r.data for r in account.sim.records() if r.source == "api" and not r.deleted]
    assert live == ["two"]


def test_a_new_run_sweeps_what_a_killed_run_left_but_never_a_live_runs_records(
    account: Account, certbot: Path
) -> None:
    # --update-lock off: one request less per run keeps this test inside one pacing window.
    lock = ("--update-lock", "off")
    # A run killed after its last auth call: it wrote and waited, its cleanup never ran.
    killed = run_certbot(
        certbot, account, hook(account, "auth", "example.test", "orphan", 0, *lock)
    )
    assert killed.statuses == [0]
    state = StateFile(account.state_file)
    (orphan,) = state.records()
    assert orphan.owner is not None
    assert orphan.owner.partition(":")[0] == str(killed.pid)  # the stand-in, not its shell

    # A record of a run still in progress elsewhere (this test process plays that run).
    busy = account.sim.add_record("example.test", "_acme-challenge", "TXT", "busy")
    key = account_key(account.sim.url, account.sim.token)
    fqdn = "_acme-challenge.example.test"
    state.add(StoredRecord(busy.id, key, "example.test", fqdn, "busy", owner=process_owner()))

    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "new-1", 1, *lock),
        hook(account, "auth", "example.test", "new-2", 0, *lock),
        hook(account, "cleanup", "example.test", "new-1", 1),
        hook(account, "cleanup", "example.test", "new-2", 0),
    )
    assert run.statuses == [0, 0, 0, 0], run.stderr
    assert "Cleaning up 1 challenge record(s) an earlier run left behind" in run.stdout
    assert "All 2 TXT record(s) are visible" in run.stdout
    assert account.live_challenges() == [busy.id]
    assert [r.record_id for r in state.records() if not r.deleting] == [busy.id]


@pytest.fixture
def stale_account(
    tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Account]:
    """ns2 never takes a change made through the API."""
    config = SimConfig(
        domains=(SimDomain("example.test"),),
        nameservers=(
            SimNameServer("ns1.variomedia.test"),
            SimNameServer("ns2.variomedia.test", publish=False),
        ),
        job_delay=0.1,
    )
    yield from start_account(config, tmp_path, cli_env, monkeypatch)


def test_the_last_call_fails_clearly_and_cleanup_still_removes_everything(
    stale_account: Account, certbot: Path
) -> None:
    account = stale_account
    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "v-1", 1),
        hook(account, "auth", "example.test", "v-2", 0, "--propagation-seconds", "1"),
        hook(account, "cleanup", "example.test", "v-1", 1),
        hook(account, "cleanup", "example.test", "v-2", 0),
    )
    assert run.statuses == [0, 1, 0, 0]
    assert "not visible on every authoritative name server after 1 s" in run.stderr
    assert account.sim.nameservers[1] in run.stderr  # the server that lags is named
    assert "raise --propagation-seconds (now 1)" in run.stderr
    assert account.live_challenges() == []
    assert len(created(account)) == 2


def test_a_server_given_with_nameservers_that_is_not_authoritative_fails_at_once(
    account: Account, certbot: Path
) -> None:
    account.sim.dns_servers[1].behaviour = "non-authoritative"  # a resolver, a forwarder
    five_minutes = ("--propagation-seconds", "300")  # run_certbot gives up after 120 s
    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "v-1", 0, *five_minutes),
        hook(account, "cleanup", "example.test", "v-1", 0),
    )
    assert run.statuses == [1, 0]
    error = " ".join(run.stderr.split())
    server = account.sim.nameservers[1]
    assert f"The name server {server}, given with --nameservers, is not authoritative " in error
    assert "for example.test: it answers without the AA bit" in error
    assert "leave --nameservers out" in error
    assert account.live_challenges() == []


def test_outside_certbot_or_outside_the_account_nothing_is_written(account: Account) -> None:
    alone = account.run("certbot-auth")
    assert alone.returncode == 2
    assert "CERTBOT_DOMAIN and CERTBOT_VALIDATION not set" in alone.stderr
    assert "--manual-auth-hook" in alone.stderr
    env = {"CERTBOT_DOMAIN": "www.nowhere.test", "CERTBOT_VALIDATION": "v"}
    outside = account.run("certbot-auth", "--nameservers", account.nameservers, env=env)
    assert outside.returncode == 1
    assert "not in a domain of this Variomedia account" in outside.stderr
    assert "POST /dns-records" not in account.sim.counters.by_route


def test_cleanup_of_an_unknown_challenge_deletes_nothing(account: Account) -> None:
    account.sim.add_record("example.test", "_acme-challenge", "TXT", "someone-elses")
    env = {"CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": "someone-elses"}
    result = account.run("certbot-cleanup", env=env)
    assert result.returncode == 0, result.stderr
    assert "nothing to remove" in result.stdout
    assert "DELETE /dns-records/{id}" not in account.sim.counters.by_route
    assert len(account.live_challenges()) == 1


def test_a_delegated_challenge_is_written_at_the_cname_target(
    account: Account, certbot: Path
) -> None:
    account.sim.add_record("example.test", "_acme-challenge.www", "CNAME", "acme.sub.example.test.")
    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "www.example.test", "delegated", 0, "--update-lock", "off"),
    )
    assert run.statuses == [0], run.stderr
    (record,) = [r for r in account.sim.records() if r.source == "api"]
    assert (record.domain_ace, record.name_ace, record.data) == (
        "sub.example.test",
        "acme",
        "delegated",
    )
    assert "PATCH /domains/{name}" not in account.sim.counters.by_route  # --update-lock off
    env = {"CERTBOT_DOMAIN": "www.example.test", "CERTBOT_VALIDATION": "delegated"}
    cleanup = account.run("certbot-cleanup", env=env)
    assert cleanup.returncode == 0, cleanup.stderr
    assert not any(not r.deleted for r in account.sim.records() if r.id == record.id)


# -- the hook environment -------------------------------------------------------------------------


def test_hook_call_reads_certbots_variables() -> None:
    call = HookCall.from_environ(
        {
            "CERTBOT_DOMAIN": "example.test",
            "CERTBOT_VALIDATION": "abc",
            "CERTBOT_REMAINING_CHALLENGES": "1",
        }
    )
    assert call == HookCall("example.test", "abc", 1)
    # Without the count (another ACME client) every call is an order of its own.
    alone = HookCall.from_environ({"CERTBOT_DOMAIN": "a.test", "CERTBOT_VALIDATION": "v"})
    assert (alone.remaining, alone.counted) == (0, False)


def test_hook_call_without_certbot_says_how_it_is_meant_to_run() -> None:
    with pytest.raises(UsageError, match="CERTBOT_DOMAIN and CERTBOT_VALIDATION not set"):
        HookCall.from_environ({})
    with pytest.raises(UsageError, match="must be a number"):
        HookCall.from_environ(
            {
                "CERTBOT_DOMAIN": "a.test",
                "CERTBOT_VALIDATION": "v",
                "CERTBOT_REMAINING_CHALLENGES": "-1",
            }
        )


@pytest.mark.parametrize(
    ("module", "loaded"),
    [
        ("hook_notes", set()),  # the calls before the last: no HTTP, no DNS
        ("hook_cleanup", {"requests"}),  # the last cleanup call: HTTP only
        ("hook_order", {"dns", "requests"}),  # the last auth call: both
    ],
)
def test_each_hook_call_loads_only_the_libraries_it_uses(module: str, loaded: set[str]) -> None:
    """certbot starts a hook process per challenge, and the order waits for each: a library a
    call does not use costs every order its import time (dnspython alone: about 0.17 s)."""
    heavy = {"dns", "requests", "certbot", "acme", "cryptography", "josepy"}
    probe = (
        f"import sys, certbot_dns_variomedia.cli.{module}; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert set(done.stdout.split()) & heavy == loaded
