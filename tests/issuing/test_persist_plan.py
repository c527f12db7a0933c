"""Which names of an order dns-persist-01 answers: a pure decision from what the servers show."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from certbot_dns_variomedia.core.persist import judge, record_name
from certbot_dns_variomedia.core.persist_lookup import NameStatus
from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.issuing.persist_plan import Choice, PersistPlan, plan_persist
from certbot_dns_variomedia.nameservers import NameServer, TxtAnswer

ACCOUNT = "https://ca.example/acme/acct/7"
ISSUERS = ("ca.example",)
NOW = 1_800_000_000.0
SERVERS = (NameServer("ns1", "127.0.0.1", 5301), NameServer("ns2", "127.0.0.1", 5302))
WILDCARD = f"ca.example; accounturi={ACCOUNT}; policy=wildcard"
PLAIN = f"ca.example; accounturi={ACCOUNT}"


def status(name: str, *values: str, error: str | None = None) -> NameStatus:
    """What both servers show at the name's record name (the second fails with `error`)."""
    answers = (
        TxtAnswer(SERVERS[0], record_name(name), frozenset(values)),
        TxtAnswer(SERVERS[1], record_name(name), frozenset(values), error=error),
    )
    judged = judge(
        values,
        issuers=ISSUERS,
        account_uri=ACCOUNT,
        wildcard_needed=name.startswith("*."),
        now=NOW,
    )
    return NameStatus(name, (record_name(name),), answers, judged, judged)


def plan(
    statuses: Sequence[NameStatus], choice: Choice = "dns-persist-01", *, can_write: bool = False
) -> PersistPlan:
    return plan_persist(
        statuses, choice=choice, issuers=ISSUERS, account_uri=ACCOUNT, can_write=can_write
    )


def test_standing_records_answer_without_anything_to_set() -> None:
    result = plan([status("example.test", WILDCARD), status("*.example.test", WILDCARD)])

    assert result.persist == {"example.test", "*.example.test"}
    assert result.to_set == {}
    assert result.kind("*.example.test") == "dns-persist-01"


def test_auto_falls_back_to_dns01_where_no_record_stands() -> None:
    result = plan([status("example.test", PLAIN), status("www.other.test")], "auto")

    assert result.kind("example.test") == "dns-persist-01"
    assert result.kind("www.other.test") == "dns-01"


def test_a_missing_record_is_set_once_when_credentials_are_given() -> None:
    result = plan(
        [status("example.test"), status("*.example.test"), status("www.other.test")],
        can_write=True,
    )

    assert result.persist == {"example.test", "*.example.test", "www.other.test"}
    assert {n: r.value() for n, r in result.to_set.items()} == {
        "example.test": WILDCARD,  # the order has the wildcard: the record must cover it
        "www.other.test": f"ca.example; accounturi={ACCOUNT}",
    }


def test_without_credentials_a_missing_record_is_reported_with_the_command_to_set_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        plan([status("example.test"), status("*.example.test", "ca.example; accounturi=x:/1")])

    text = str(caught.value)
    assert "nothing was ordered" in text
    assert "example.test: there is no record for this CA and account; set it once: " in text
    assert "variomedia-dns persist set -d example.test --policy wildcard," in text
    assert "*.example.test: the record for this CA names another account (x:/1)" in text


def test_a_record_without_wildcard_policy_is_reported_before_the_order_even_with_credentials() -> (
    None
):
    with pytest.raises(ConfigurationError, match="policy=wildcard") as caught:
        plan([status("example.test", PLAIN), status("*.example.test", PLAIN)], can_write=True)

    assert "variomedia-dns persist set -d example.test --policy wildcard --replace" in str(
        caught.value
    )


def test_a_server_without_an_answer_is_not_written_over() -> None:
    with pytest.raises(ConfigurationError, match="no usable answer from ns2"):
        plan([status("example.test", error="timeout after 3 s")], can_write=True)


def test_the_plan_knows_which_issuer_each_standing_record_names() -> None:
    second = f"ca2.example; accounturi={ACCOUNT}"
    judged = judge(
        [second], issuers=("ca.example", "ca2.example"), account_uri=ACCOUNT,
        wildcard_needed=False, now=NOW,
    )  # fmt: skip
    answers = tuple(TxtAnswer(s, record_name("example.test"), frozenset([second])) for s in SERVERS)
    status = NameStatus("example.test", (record_name("example.test"),), answers, judged, judged)

    result = plan_persist(
        [status],
        choice="dns-persist-01",
        issuers=("ca.example", "ca2.example"),
        account_uri=ACCOUNT,
        can_write=False,
    )

    assert result.issuer_of == {"example.test": "ca2.example"}  # checked against the challenge
