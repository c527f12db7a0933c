"""``check``: the real console script against the simulator's name servers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from certbot_dns_variomedia.core.zones import cname_chain, find_zone
from certbot_dns_variomedia.errors import DNSLookupError
from certbot_dns_variomedia.resolver import Resolver
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from .conftest import CHALLENGE, Account


def check(account: Account, *args: str) -> tuple[int, dict[str, Any]]:
    result = account.run("check", *args, "--nameservers", account.nameservers, "--json")
    assert result.stderr == "" or result.returncode != 2, result.stderr
    return result.returncode, json.loads(result.stdout)


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
    # Ten minutes allowed, the command's own bound is 60 s: it returns when the record shows
    # (job 0.2 s, slowest server 0.3 s), or the run fails with TimeoutExpired.
    status, data = check(account, CHALLENGE, "fresh", "--wait", "600")
    assert status == 0
    assert data["visible_on_all"] is True


def test_check_wait_counts_one_record_one_way_from_start_to_end(account: Account) -> None:
    account.sim.add_record("example.test", "_acme-challenge", "TXT", "there")
    options = ("--nameservers", account.nameservers, "--wait", "20")
    result = account.run("check", CHALLENGE, "there", *options)
    assert result.returncode == 0, result.stderr
    progress = result.stderr.splitlines()
    assert progress[0].startswith("Waiting up to 20 s until 1 TXT record(s) are visible")
    assert progress[-1].startswith("All 1 TXT record(s) are visible on all 2 name servers")


def test_check_wait_gives_up_after_its_time(account: Account) -> None:
    status, data = check(account, CHALLENGE, "never", "--wait", "1")  # bound: 60 s
    assert status == 1
    assert data["visible_on_all"] is False


def test_check_follows_a_cname_as_the_ca_does(account: Account) -> None:
    account.sim.add_record("example.test", "_acme-challenge", "CNAME", "acme.sub.example.test.")
    account.sim.add_record("sub.example.test", "acme", "TXT", "delegated")
    status, data = check(account, CHALLENGE, "delegated")
    assert status == 0
    assert data["cname_chain"] == ["acme.sub.example.test"]
    assert data["queried_name"] == "acme.sub.example.test"


def test_zone_and_cname_chain_are_found_as_on_the_internet(
    internet_like: tuple[VariomediaSimulator, Resolver],
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
