"""The dns-persist-01 record: building, parsing and judging it, tested directly (pure)."""

from __future__ import annotations

import pytest

from certbot_dns_variomedia.core.persist import (
    MalformedRecord,
    PersistRecord,
    build,
    check_issuer_names,
    judge,
    parse,
    record_name,
    too_long,
)

ACCOUNT = "https://acme.example/acme/acct/123"
OTHER = "https://acme.example/acme/acct/999"
NOW = 1_800_000_000.0


def test_value_is_the_drafts_spelling_and_parses_back() -> None:
    record = build("Ca.Example", ACCOUNT, wildcard=True, persist_until=1_900_000_000)

    assert record.value() == (
        f"ca.example; accounturi={ACCOUNT}; policy=wildcard; persistUntil=1900000000"
    )
    assert parse(record.value()) == record
    assert build("ca.example", ACCOUNT).value() == f"ca.example; accounturi={ACCOUNT}"


@pytest.mark.parametrize(
    "text",
    [
        f"CA.EXAMPLE; AccountURI={ACCOUNT}; Policy=WILDCARD",  # tags and values: any case
        f"  ca.example ;accounturi = {ACCOUNT};policy=wildcard ;",  # white space, empty part
        f"ca.example; accounturi={ACCOUNT}; policy=wildcard; future-tag=1",  # unknown: ignored
    ],
)
def test_parse_reads_what_the_rfc_8659_syntax_allows(text: str) -> None:
    record = parse(text)

    assert record == PersistRecord("ca.example", ACCOUNT, wildcard=True)


def test_unknown_parameters_are_kept_as_found() -> None:
    record = parse(f"ca.example; accounturi={ACCOUNT}; Future-Tag=x")

    assert record.extra == (("Future-Tag", "x"),)
    assert record.value().endswith("; Future-Tag=x")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "names no CA"),
        (f"accounturi={ACCOUNT}", "is not an issuer domain name"),
        ("ca.example", "has no accounturi"),
        (f"ca.example; accounturi={ACCOUNT}; accounturi={OTHER}", "appears twice"),
        (f"ca.example; accounturi={ACCOUNT}; persistUntil=2027-01-01", "not a UNIX time"),
        (f"ca.example; accounturi={ACCOUNT}; wildcard", "not a tag=value parameter"),
        (f"ca.example; accounturi={ACCOUNT} x", "not a tag=value parameter"),
    ],
)
def test_parse_says_why_a_record_is_malformed(text: str, why: str) -> None:
    with pytest.raises(MalformedRecord, match=why):
        parse(text)


@pytest.mark.parametrize(
    ("uri", "issuer"),
    [("not a url", "ca.example"), ("https://x/a;b", "ca.example"), (ACCOUNT, "ca example")],
)
def test_build_refuses_what_no_ca_would_accept(uri: str, issuer: str) -> None:
    with pytest.raises(MalformedRecord):
        build(issuer, uri)


def test_record_name_drops_the_wildcard_and_takes_the_ace_form() -> None:
    assert record_name("*.Example.DE") == "_validation-persist.example.de"
    assert record_name("bücher.de") == "_validation-persist.xn--bcher-kva.de"


@pytest.mark.parametrize("count", [1, 10])
def test_one_to_ten_issuer_names_are_accepted_and_normalised(count: int) -> None:
    names = ["CA.Example", *(f"ca{i}.example" for i in range(1, count))]

    assert check_issuer_names(names)[0] == "ca.example"
    assert len(check_issuer_names(names)) == count


@pytest.mark.parametrize(
    ("names", "why"),
    [
        (None, "lists no issuer domain names"),
        ([], "lists no issuer domain names"),
        ([f"ca{i}.example" for i in range(11)], "11 issuer domain names, more than the 10"),
        ("ca.example", "not a list"),
        ([7], "other than names"),
    ],
)
def test_a_challenge_with_no_or_too_many_issuer_names_is_malformed(names: object, why: str) -> None:
    with pytest.raises(MalformedRecord, match=why):
        check_issuer_names(names)


def verdict(*values: str, wildcard: bool = False) -> str | None:
    return judge(
        values, issuers=("ca.example",), account_uri=ACCOUNT, wildcard_needed=wildcard, now=NOW
    ).problem


def test_judge_finds_this_accounts_record_among_others() -> None:
    theirs = f"other-ca.example; accounturi={ACCOUNT}"
    mine = f"ca.example; accounturi={ACCOUNT}"
    judgement = judge(
        [theirs, mine, "junk"],
        issuers=("ca.example",),
        account_uri=ACCOUNT,
        wildcard_needed=False,
        now=NOW,
    )

    assert judgement.valid == parse(mine)
    assert judgement.problem is None
    assert [r.issuer for r in judgement.other_cas] == ["other-ca.example"]
    assert [v for v, _ in judgement.malformed] == ["junk"]


def test_judge_says_why_no_record_authorizes() -> None:
    assert verdict() == "there is no record for this CA and account"
    assert verdict(f"ca.example; accounturi={OTHER}") == (
        f"the record for this CA names another account ({OTHER})"
    )
    assert verdict("ca.example; policy=wildcard") == (
        "the only record is malformed (it has no accounturi)"
    )
    assert verdict(f"ca.example; accounturi={ACCOUNT}; persistUntil={int(NOW) - 1}") == (
        "its persistUntil has passed (2027-01-15 07:59 UTC)"
    )
    assert verdict(f"ca.example; accounturi={ACCOUNT}", wildcard=True) == (
        "it lacks policy=wildcard, which a wildcard name needs"
    )
    assert verdict(f"ca.example; accounturi={ACCOUNT}; policy=wildcard", wildcard=True) is None


def test_the_longest_lasting_of_several_records_counts() -> None:
    soon = f"ca.example; accounturi={ACCOUNT}; persistUntil={int(NOW) + 86400}"
    never = f"ca.example; accounturi={ACCOUNT}"
    judgement = judge(
        [soon, never], issuers=("ca.example",), account_uri=ACCOUNT, wildcard_needed=False, now=NOW
    )

    assert judgement.valid == parse(never)
    assert judgement.conflicting


def test_days_left_and_a_record_too_long_for_one_string() -> None:
    record = build("ca.example", ACCOUNT, persist_until=int(NOW) + 10 * 86400)

    assert record.days_left(NOW) == pytest.approx(10)
    assert not too_long(record)
    assert too_long(build("ca.example", "https://acme.example/" + "a" * 240))
