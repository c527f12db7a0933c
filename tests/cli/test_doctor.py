"""``doctor``: the real console script against the simulator, and its checks one by one."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from certbot_dns_variomedia.api.models import Domain
from certbot_dns_variomedia.cli import doctor as doctor_module
from certbot_dns_variomedia.cli.doctor import Doctor
from certbot_dns_variomedia.core.state import StateFile, StoredRecord, process_owner
from certbot_dns_variomedia.credentials import account_key
from certbot_dns_variomedia.resolver import Resolver
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from .conftest import CHALLENGE, Account, write_credentials


def doctor(account: Account, *args: str, **env: str) -> tuple[int, list[tuple[str, str]], str]:
    result = account.run(
        "doctor", *args, "--nameservers", account.nameservers, "--json", env=env or None
    )
    data = json.loads(result.stdout)
    assert data["ok"] is (result.returncode == 0)
    findings = [(c["check"], c["status"]) for c in data["checks"]]
    text = json.dumps(data["checks"])
    return result.returncode, findings, text


ALL_CHECKS = ["credentials", "token", "domains", "update lock", "name servers", "delegation"]


def test_doctor_on_a_healthy_account(account: Account) -> None:
    status, findings, text = doctor(
        account, "*.example.test", "--credentials", str(account.credentials)
    )
    assert status == 0, text
    assert findings == [
        ("credentials", "ok"),
        ("token", "ok"),
        ("domains", "ok"),
        ("update lock", "note"),  # off: the hooks switch it on; the note says how to now
        ("name servers", "ok"),
        ("delegation", "ok"),
        ("state file", "ok"),
    ]
    assert "variomedia-dns lock on example.test" in text
    assert account.sim.token not in text


def test_doctor_for_people_prints_verdicts_and_fixes(account: Account, tmp_path: Path) -> None:
    loose = write_credentials(tmp_path / "loose.ini", account.sim.token, account.sim.url, 0o640)
    result = account.run(
        "doctor", "example.test", "--credentials", str(loose), "--nameservers", account.nameservers
    )
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("WARN  credentials")
    assert lines[1].strip() == f"fix: chmod 600 {loose}"
    assert lines[2].startswith("ok    credentials")
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == [
        "WARN", "ok", "ok", "ok", "note", "ok", "ok", "ok",
    ]  # fmt: skip
    assert result.stderr == ""  # the loader's own permission warning is not said twice


def test_doctor_with_a_refused_token_skips_what_depends_on_it(account: Account) -> None:
    status, findings, text = doctor(
        account, "example.test", VARIOMEDIA_API_TOKEN="wrong-0123456789"
    )
    assert status == 1
    assert findings[:2] == [("credentials", "ok"), ("token", "fail")]
    assert {s for _, s in findings[2:]} == {"skip"}
    assert "token was refused" in text
    assert "wrong-0123456789" not in text


def test_doctor_without_credentials(account: Account) -> None:
    status, findings, text = doctor(account, VARIOMEDIA_API_TOKEN="")
    assert status == 1
    assert findings[0] == ("credentials", "fail")
    assert "VARIOMEDIA_API_TOKEN" in text


def test_doctor_with_a_domain_outside_the_account(account: Account) -> None:
    status, findings, text = doctor(account, "www.other.test")
    assert status == 1
    assert ("domains", "fail") in findings
    assert ("name servers", "skip") in findings
    assert "not hosted at Variomedia" in text


def test_doctor_finds_a_name_server_that_does_not_answer(account: Account) -> None:
    account.sim.dns_servers[0].behaviour = "servfail"
    status, findings, text = doctor(account, "example.test")
    assert status == 1
    assert ("name servers", "fail") in findings
    assert f"{account.sim.nameservers[0]}: SERVFAIL" in text


def test_doctor_reports_cname_delegation(account: Account) -> None:
    account.sim.add_record("example.test", "_acme-challenge", "CNAME", "acme.sub.example.test.")
    status, findings, text = doctor(account, "example.test")
    assert status == 0, text
    assert "is a CNAME to acme.sub.example.test (zone sub.example.test)" in text
    account.sim.add_record("example.test", "_acme-challenge.www", "CNAME", "acme.elsewhere.test.")
    status, findings, text = doctor(account, "www.example.test")
    assert status == 1
    assert ("delegation", "fail") in findings
    assert "acme.elsewhere.test" in text
    assert "not in a domain of this Variomedia account" in text


def test_doctor_tells_leftovers_from_queued_removals(account: Account) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{dead.pid}:0"
    key = account_key(account.sim.url, account.sim.token)
    state = StateFile(account.state_file)
    for record_id, deleting, who in (("1", False, owner), ("2", True, owner), ("3", False, None)):
        state.add(
            StoredRecord(
                record_id, key, "example.test", CHALLENGE, "v", deleting=deleting, owner=who
            )
        )
    state.add(StoredRecord("4", key, "example.test", CHALLENGE, "v", owner=process_owner()))
    state.add(StoredRecord("5", "another-account", "example.test", CHALLENGE, "v"))
    status, findings, text = doctor(account)
    assert status == 0  # leftovers are removed by the next run: a warning, not a failure
    assert findings[-4:] == [
        ("state file", "note"),  # another account's entry
        ("state file", "note"),  # in use by this (running) process
        ("state file", "note"),  # a queued removal
        ("state file", "warn"),  # two leftovers
    ]
    assert "2 record(s) left behind by interrupted runs" in text
    assert "1 (_acme-challenge.example.test), 3 (_acme-challenge.example.test)" in text
    assert "variomedia-dns records delete ID" in text


def test_doctor_also_reads_the_plugins_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin_state = tmp_path / "letsencrypt" / "dns-variomedia-state.json"
    monkeypatch.setattr(doctor_module, "CERTBOT_PLUGIN_STATE_FILE", plugin_state)
    monkeypatch.setenv("VARIOMEDIA_DNS_STATE_FILE", str(tmp_path / "hooks.json"))
    args = argparse.Namespace(state_file=None)
    assert [s.path for s in doctor_module.state_files(args)] == [tmp_path / "hooks.json"]
    StateFile(plugin_state).add(StoredRecord("9", "acct", "example.test", CHALLENGE, "v"))
    assert [s.path for s in doctor_module.state_files(args)] == [
        tmp_path / "hooks.json",
        plugin_state,
    ]
    named = argparse.Namespace(state_file=str(tmp_path / "named.json"))
    assert [s.path for s in doctor_module.state_files(named)] == [tmp_path / "named.json"]


def test_doctor_judges_discovered_name_servers(
    internet_like: tuple[VariomediaSimulator, Resolver], tmp_path: Path
) -> None:
    _, resolver = internet_like
    # The doctor's name server check, on discovered servers: they answer, but they are not
    # Variomedia's, which it says (the simulator's are ns1/ns2.variomedia.test).
    args = argparse.Namespace(domain="example.test", credentials=None)
    doctor = Doctor(args, states=[StateFile(tmp_path / "s.json")], resolver=resolver, servers=None)
    doctor.check_nameservers(Domain("example.test", has_presence=True))
    assert [(f.check, f.status) for f in doctor.findings] == [
        ("name servers", "warn"),
        ("name servers", "ok"),
    ]
    assert "ns.variomedia.de and ns2.variomedia.de" in doctor.findings[0].detail
    assert "127.0.0.2" in doctor.findings[1].detail
    assert "127.0.0.3" in doctor.findings[1].detail
