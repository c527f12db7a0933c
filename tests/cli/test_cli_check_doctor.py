"""``check`` and ``doctor``: the real console script against the simulator's name servers."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_variomedia.api.models import Domain
from certbot_dns_variomedia.cli import doctor as doctor_module
from certbot_dns_variomedia.cli.check import find_zone
from certbot_dns_variomedia.cli.doctor import Doctor
from certbot_dns_variomedia.core.state import StateFile, StoredRecord, process_owner
from certbot_dns_variomedia.core.zones import cname_chain
from certbot_dns_variomedia.credentials import account_key
from certbot_dns_variomedia.errors import DNSLookupError
from certbot_dns_variomedia.resolver import NameServer, Resolver
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from .conftest import FAST, Account, write_credentials

CHALLENGE = "_acme-challenge.example.test"


def check(account: Account, *args: str) -> tuple[int, dict[str, Any]]:
    result = account.run("check", *args, "--nameservers", account.nameservers, "--json")
    assert result.stderr == "" or result.returncode != 2, result.stderr
    return result.returncode, json.loads(result.stdout)


# -- check ----------------------------------------------------------------------------------------


def test_check_shows_every_servers_answer_and_whether_value_is_on_all(account: Account) -> None:
    account.sim.add_record("example.test", "_acme-challenge", "TXT", "token-1")
    account.sim.add_record("example.test", "_acme-challenge", "TXT", "other")
    status, data = check(account, CHALLENGE, "token-1")
    assert status == 0
    assert data["visible_on_all"] is True
    assert [(s["address"], s["values"], s["shows_value"]) for s in data["servers"]] == [
        ("127.0.0.1", ["other", "token-1"], True),
        ("127.0.0.1", ["other", "token-1"], True),
    ]
    status, data = check(account, CHALLENGE, "token-2")
    assert status == 1
    assert data["visible_on_all"] is False


def test_check_without_value_fails_only_when_a_server_gives_no_answer(account: Account) -> None:
    status, data = check(account, "_nothing.example.test")
    assert status == 0
    assert [s["nxdomain"] for s in data["servers"]] == [True, True]
    account.sim.dns_servers[1].behaviour = "servfail"
    status, data = check(account, "_nothing.example.test")
    assert status == 1
    assert [s["error"] for s in data["servers"]] == [None, "SERVFAIL"]


def test_check_for_people_names_the_server_that_lacks_the_value(account: Account) -> None:
    account.sim.add_record("example.test", "_acme-challenge", "TXT", "token-1")
    account.sim.dns_servers[1].behaviour = "refused"
    result = account.run("check", CHALLENGE, "token-1", "--nameservers", account.nameservers)
    assert result.returncode == 1
    lagging = account.sim.nameservers[1]
    assert f'"token-1" is not visible on 1 of 2: {lagging}.' in result.stdout
    assert "no answer: REFUSED" in result.stdout


def test_check_wait_returns_when_the_record_appears(account: Account) -> None:
    added = account.run("records", "add", CHALLENGE, "TXT", "fresh")
    assert added.returncode == 0, added.stderr
    started = time.monotonic()
    status, data = check(account, CHALLENGE, "fresh", "--wait", "20")
    assert status == 0
    assert data["visible_on_all"] is True
    assert time.monotonic() - started < 10  # job 0.2 s + slowest server 0.3 s, not 20 s


def test_check_wait_gives_up_after_its_time(account: Account) -> None:
    started = time.monotonic()
    status, data = check(account, CHALLENGE, "never", "--wait", "1")
    assert status == 1
    assert data["visible_on_all"] is False
    assert time.monotonic() - started < 8


def test_check_follows_a_cname_as_the_ca_does(account: Account) -> None:
    account.sim.add_record("example.test", "_acme-challenge", "CNAME", "acme.sub.example.test.")
    account.sim.add_record("sub.example.test", "acme", "TXT", "delegated")
    status, data = check(account, CHALLENGE, "delegated")
    assert status == 0
    assert data["cname_chain"] == ["acme.sub.example.test"]
    assert data["queried_name"] == "acme.sub.example.test"


@pytest.fixture
def internet_like() -> Iterator[tuple[VariomediaSimulator, Resolver]]:
    """Name servers on 127.0.0.2 and 127.0.0.3 sharing one port, found by their NS names."""
    with VariomediaSimulator(replace(FAST, dns_addresses=("127.0.0.2", "127.0.0.3"))) as sim:
        port = sim.dns_servers[0].port
        yield sim, Resolver(bootstrap=[NameServer("127.0.0.2", "127.0.0.2", port)], port=port)


def test_zone_and_its_servers_are_found_as_on_the_internet(
    internet_like: tuple[VariomediaSimulator, Resolver], tmp_path: Path
) -> None:
    sim, resolver = internet_like
    assert find_zone(resolver, "_acme-challenge.www.sub.example.test") == "sub.example.test"
    assert find_zone(resolver, "_acme-challenge.example.test") == "example.test"
    sim.add_record("example.test", "_acme-challenge", "CNAME", "a.b.sub.example.test.")
    sim.add_record("sub.example.test", "a.b", "CNAME", "acme.sub.example.test.")
    assert cname_chain("_acme-challenge.example.test", resolver.cname_target) == [
        "_acme-challenge.example.test",
        "a.b.sub.example.test",
        "acme.sub.example.test",
    ]
    with pytest.raises(DNSLookupError, match="REFUSED"):
        find_zone(resolver, "www.nowhere.test")
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


# -- doctor ---------------------------------------------------------------------------------------


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
