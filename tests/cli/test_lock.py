"""``lock on|off|status``: the real console script against the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from .conftest import FAST, Account, start_account


def lock_of(account: Account, name: str) -> bool:
    return next(d.update_lock for d in account.sim.domains() if d.ace == name)


def test_lock_on_off_and_status(account: Account) -> None:
    status = account.run("lock", "status", "example.test", "--json")
    assert json.loads(status.stdout) == {
        "name": "example.test",
        "update_lock": False,
        "migration_mode": False,
        "changed": False,
    }
    on = account.run("lock", "on", "example.test")
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() == "Switched the DNS update lock of example.test on."
    assert lock_of(account, "example.test")
    assert not lock_of(account, "sub.example.test")
    again = account.run("lock", "on", "example.test")
    assert again.stdout.strip() == "The DNS update lock of example.test is already on."
    off = account.run("lock", "off", "example.test")
    assert off.returncode == 0, off.stderr
    assert not lock_of(account, "example.test")
    assert account.sim.counters.by_route["PATCH /domains/{name}"] == 2


def test_lock_of_a_name_inside_a_domain_names_the_domain(account: Account) -> None:
    result = account.run("lock", "off", "www.sub.example.test")
    assert result.returncode == 1
    assert "variomedia-dns lock off sub.example.test" in result.stderr
    unknown = account.run("lock", "on", "nowhere.test")
    assert unknown.returncode == 1
    assert "not in a domain of this Variomedia account" in unknown.stderr
    assert "PATCH /domains/{name}" not in account.sim.counters.by_route


@pytest.fixture
def variant_account(
    tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Account]:
    """The documented variants: PATCH answers with a queue job; the domain list omits the lock."""
    config = replace(FAST, patch_answer="job", domain_list_presence="minimal")
    yield from start_account(config, tmp_path, cli_env, monkeypatch)


def test_lock_waits_for_its_job_and_a_lock_the_list_left_out_is_asked_for(
    variant_account: Account,
) -> None:
    account = variant_account
    everything = json.loads(account.run("records", "list", "--json").stdout)
    assert [d["update_lock"] for d in everything["domains"]] == [None, None]  # not guessed
    one = json.loads(account.run("records", "list", "example.test", "--json").stdout)
    assert one["domains"][0]["update_lock"] is False
    on = account.run("lock", "on", "example.test")
    assert on.returncode == 0, on.stderr
    assert lock_of(account, "example.test")
    assert account.sim.counters.by_route["GET /queue-jobs/{id}"] >= 1
