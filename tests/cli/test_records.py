"""``records list|add|delete``: the real console script against the simulator."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from certbot_dns_variomedia.core.state import StateFile, StoredRecord
from certbot_dns_variomedia.credentials import account_key

from .conftest import SCRIPT, Account, write_credentials


def live(account: Account, record_id: str) -> bool:
    return any(r.id == record_id and not r.deleted for r in account.sim.records())


# -- records list ---------------------------------------------------------------------------------


def test_list_shows_domains_with_their_lock_and_every_record(account: Account) -> None:
    result = account.run("records", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["DOMAIN", "UPDATE", "LOCK", "MIGRATION", "MODE"]
    assert lines[1].split() == ["example.test", "off", "off"]
    assert lines[2].split() == ["sub.example.test", "off", "off"]
    assert "other.test" not in lines[3]  # registered without DNS here: no zone to show
    ids = {r.id for r in account.sim.records()}
    shown = {line.split()[0] for line in lines[5:]}
    assert shown == ids


def test_list_of_a_name_shows_that_name_and_below_as_json(account: Account) -> None:
    result = account.run("records", "list", "www.example.test", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["domains"] == [
        {"name": "example.test", "update_lock": False, "migration_mode": False}
    ]
    assert [(r["type"], r["name"], r["data"]) for r in data["records"]] == [
        ("A", "www.example.test", "192.0.2.80")
    ]
    # A name in the longer account domain is listed from that zone, not from example.test.
    sub = json.loads(account.run("records", "list", "sub.example.test", "--json").stdout)
    assert {r["zone"] for r in sub["records"]} == {"sub.example.test"}


# -- records add ----------------------------------------------------------------------------------


def test_add_places_the_name_in_the_longest_account_domain(account: Account) -> None:
    result = account.run(
        "records", "add", "_acme-challenge.www.sub.example.test", "TXT", "v-1", "--ttl", "600",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["zone"], data["name"], data["ttl"]) == (
        "sub.example.test",
        "_acme-challenge.www.sub.example.test",
        600,
    )
    created = next(r for r in account.sim.records() if r.id == data["id"])
    assert (created.domain_ace, created.name_ace, created.data, created.ttl) == (
        "sub.example.test",
        "_acme-challenge.www",
        "v-1",
        600,
    )
    people = account.run("records", "add", "_x.Example.TEST", "txt", "v-2")
    assert people.returncode == 0, people.stderr
    assert people.stdout.startswith("Created TXT _x.example.test in example.test (record ")


def test_add_outside_the_account_says_what_the_account_has(account: Account) -> None:
    before = account.sim.counters.by_route.get("POST /dns-records", 0)
    unknown = account.run("records", "add", "_x.nowhere.test", "TXT", "v")
    assert unknown.returncode == 1
    assert "not in a domain of this Variomedia account" in unknown.stderr
    assert "example.test, sub.example.test" in unknown.stderr
    unhosted = account.run("records", "add", "_x.other.test", "TXT", "v")
    assert unhosted.returncode == 1
    assert "whose DNS is not hosted at Variomedia" in unhosted.stderr
    assert account.sim.counters.by_route.get("POST /dns-records", 0) == before


def test_add_with_a_bad_ttl_is_a_usage_error_and_sends_nothing(account: Account) -> None:
    for ttl in ("299", "86401", "soon"):
        result = account.run("records", "add", "_x.example.test", "TXT", "v", "--ttl", ttl)
        assert result.returncode == 2
        assert "--ttl" in result.stderr
    assert account.sim.counters.total == 0


@pytest.mark.parametrize("record_id", ["..", ".", "1/../../domains", "1?x=y", "%2e%2e", ""])
def test_delete_of_an_id_of_another_form_is_a_usage_error_and_sends_nothing(
    account: Account, record_id: str
) -> None:
    """'..' once became DELETE /dns-records/.., that is: DELETE /."""
    result = account.run("records", "delete", record_id, "--yes")
    assert result.returncode == 2
    assert f"argument ID: {record_id!r} is not a record id" in result.stderr
    assert account.sim.counters.total == 0


def test_credentials_problems_are_one_clear_line(account: Account, tmp_path: Path) -> None:
    no_env = {"VARIOMEDIA_API_TOKEN": "", "VARIOMEDIA_API_URL": ""}
    missing_env = account.run("records", "list", env=no_env)
    assert missing_env.returncode == 1
    assert missing_env.stderr.strip().count("\n") == 0
    assert "--credentials FILE" in missing_env.stderr
    assert "VARIOMEDIA_API_TOKEN" in missing_env.stderr

    missing_file = account.run("records", "list", "--credentials", str(tmp_path / "nope.ini"))
    assert missing_file.returncode == 1
    assert "does not exist" in missing_file.stderr

    bad_token = "wrong-token-0123456789"
    refused = account.run("records", "list", env={"VARIOMEDIA_API_TOKEN": bad_token})
    assert refused.returncode == 1
    assert "token was refused" in refused.stderr
    assert bad_token not in refused.stderr + refused.stdout

    # The plugin's INI file works here too; unsafe permissions are warned about, not fatal.
    loose = write_credentials(tmp_path / "loose.ini", account.sim.token, account.sim.url, 0o644)
    works = account.run("records", "list", "--credentials", str(loose), env=no_env)
    assert works.returncode == 0, works.stderr
    assert "chmod 600" in works.stderr
    assert account.sim.token not in works.stderr + works.stdout


# -- records delete -------------------------------------------------------------------------------


def test_delete_needs_yes_without_a_terminal(account: Account) -> None:
    record = account.sim.add_record("example.test", "_x", "TXT", "doomed")
    refused = account.run("records", "delete", record.id)
    assert refused.returncode == 2
    assert "add --yes" in refused.stderr
    assert live(account, record.id)

    deleted = account.run("records", "delete", record.id, "--yes", "--json")
    assert deleted.returncode == 0, deleted.stderr
    data = json.loads(deleted.stdout)
    assert (data["id"], data["data"], data["already_gone"]) == (record.id, "doomed", False)
    assert not live(account, record.id)


def run_on_terminal(account: Account, answer: str, *args: str) -> tuple[int, str]:
    """The script with a pseudo-terminal as stdin, answering the question with `answer`."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [SCRIPT, *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=account.env,
            text=True,
        )
        os.write(master, answer.encode())
        out, err = process.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    return process.returncode, out + err


def test_delete_asks_on_a_terminal_and_only_yes_deletes(account: Account) -> None:
    record = account.sim.add_record("example.test", "_x", "TXT", "maybe")
    status, output = run_on_terminal(account, "n\n", "records", "delete", record.id)
    assert status == 1
    assert f"Delete TXT _x.example.test 'maybe' (record {record.id})? [y/N]" in output
    assert "Nothing deleted" in output
    assert live(account, record.id)
    status, output = run_on_terminal(account, "y\n", "records", "delete", record.id)
    assert status == 0, output
    assert not live(account, record.id)


def test_delete_of_an_unknown_id_or_a_protected_record_fails_clearly(account: Account) -> None:
    unknown = account.run("records", "delete", "99999999", "--yes")
    assert unknown.returncode == 1
    assert "There is no DNS record with id 99999999" in unknown.stderr
    dkim = next(r for r in account.sim.records() if r.name_ace == "vmd._domainkey")
    protected = account.run("records", "delete", dkim.id, "--yes")
    assert protected.returncode == 1
    assert "cannot be deleted" in protected.stderr
    assert live(account, dkim.id)


def test_delete_of_a_challenge_record_drops_it_from_the_state_file(account: Account) -> None:
    record = account.sim.add_record("example.test", "_acme-challenge", "TXT", "left")
    state = StateFile(account.state_file)
    state.add(
        StoredRecord(
            record_id=record.id,
            account=account_key(account.sim.url, account.sim.token),
            zone="example.test",
            fqdn="_acme-challenge.example.test",
            value="left",
            owner="1:0",
        )
    )
    result = account.run("records", "delete", record.id, "--yes")
    assert result.returncode == 0, result.stderr
    assert state.records() == []
