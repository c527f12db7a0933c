"""The manual hooks as real processes, run by a stand-in certbot, against the simulator.

The stand-in is a shell script called ``certbot`` that runs each hook command through
``sh -c`` one after the other, as certbot does, and stays alive meanwhile: so the hooks find
it as their owner exactly as they find certbot, and a run that has exited is a dead owner.
The real certbot is in test_hooks_e2e.py. At the end: reading certbot's variables.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certbot_dns_variomedia.cli.hooks import HookCall
from certbot_dns_variomedia.cli.options import UsageError
from certbot_dns_variomedia.core.state import StateFile, StoredRecord, process_owner
from certbot_dns_variomedia.credentials import account_key
from certbot_dns_variomedia.testing.variomedia.simulator import SimConfig, SimDomain, SimNameServer

from .conftest import SCRIPT, Account, start_account

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
    )
    out, err = process.communicate(timeout=120)
    return Run(process.pid, out, err)


def created(account: Account) -> list[str]:
    return [r.id for r in account.sim.records() if r.source == "api"]


def test_only_the_last_auth_call_waits_and_it_waits_for_the_whole_batch(
    account: Account, certbot: Path
) -> None:
    run = run_certbot(
        certbot,
        account,
        hook(account, "auth", "example.test", "apex-value", 1),
        hook(account, "auth", "example.test", "wildcard-value", 0),
        hook(account, "cleanup", "example.test", "apex-value", 1),
        hook(account, "cleanup", "example.test", "wildcard-value", 0),
    )
    assert run.statuses == [0, 0, 0, 0], run.stderr
    first, second, *cleanups = run.stdout.split("[exit 0]")[:4]
    assert "1 more challenge(s) to come" in first
    assert "Waiting up to" not in first
    assert second.count("Waiting up to") == 1
    assert "until 2 TXT record(s) are visible" in second
    assert "All 2 TXT record(s) of this order are visible on all 2 name servers" in second
    assert all("Removed the TXT record for example.test" in c for c in cleanups)
    # Exactly the two records written were deleted, by id, and nothing else was touched.
    ids = created(account)
    assert len(ids) == 2
    deletes = [e.path for e in account.sim.log if e.method == "DELETE"]
    assert sorted(deletes) == sorted(f"/dns-records/{i}" for i in ids)
    assert account.live_challenges() == []
    assert next(d.update_lock for d in account.sim.domains() if d.ace == "example.test")
    assert run.stderr == ""  # certbot would show stderr as a warning


def test_a_new_run_sweeps_what_a_killed_run_left_but_never_a_live_runs_records(
    account: Account, certbot: Path
) -> None:
    # --update-lock off: one request less per run keeps this test inside one pacing window.
    lock = ("--update-lock", "off")
    killed = run_certbot(
        certbot, account, hook(account, "auth", "example.test", "orphan", 1, *lock)
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
    # The second call did not sweep the first call's record: both were waited for.
    assert "All 2 TXT record(s) of this order are visible" in run.stdout
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
    # Without the count (another ACME client) every call is the last of its batch.
    alone = HookCall.from_environ({"CERTBOT_DOMAIN": "a.test", "CERTBOT_VALIDATION": "v"})
    assert alone.remaining == 0


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
