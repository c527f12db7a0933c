"""The account a persist command speaks for, and the dates it takes: single functions, directly."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from certbot_dns_variomedia.cli.persist import until_value
from certbot_dns_variomedia.cli.persist_account import certbot_account_uri
from certbot_dns_variomedia.errors import ConfigurationError

SERVER = "https://acme-staging-v02.api.letsencrypt.org/directory"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2027-01-01", 1798761600),
        ("2027-01-01T01:00:00+01:00", 1798761600),
        ("2027-01-01T00:00:00Z", 1798761600),
        ("1798761600", 1798761600),
    ],
)
def test_persist_until_takes_a_date_a_time_with_its_zone_or_unix_seconds(
    text: str, seconds: int
) -> None:
    assert until_value(text) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [("next year", "is not a date"), ("2027-01-01T12:00:00", "has a time but no time zone")],
)
def test_persist_until_says_what_it_wants(text: str, why: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=why):
        until_value(text)


def save_account(config: Path, account_id: str, uri: str) -> None:
    """An account as certbot saves it (regr.json beside meta.json and private_key.json)."""
    folder = config / "accounts/acme-staging-v02.api.letsencrypt.org/directory" / account_id
    folder.mkdir(parents=True)
    (folder / "regr.json").write_text(json.dumps({"body": {}, "uri": uri}))


def test_certbots_one_account_for_the_server_is_read(tmp_path: Path) -> None:
    save_account(tmp_path, "0123abcd", "https://acme-staging-v02.api.letsencrypt.org/acme/acct/7")

    assert certbot_account_uri(tmp_path, SERVER) == (
        "https://acme-staging-v02.api.letsencrypt.org/acme/acct/7"
    )


def test_no_account_or_two_accounts_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"certbot has no account for .* register one"):
        certbot_account_uri(tmp_path, SERVER)
    save_account(tmp_path, "aaaa", "https://x/acct/1")
    save_account(tmp_path, "bbbb", "https://x/acct/2")
    with pytest.raises(
        ConfigurationError, match=r"keeps 2 accounts .* \(aaaa, bbbb\).*--account-uri"
    ):
        certbot_account_uri(tmp_path, SERVER)
