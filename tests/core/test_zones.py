"""Zone placement: which account domain and record name each certificate name gets."""

from __future__ import annotations

import re

import pytest

from certbot_dns_variomedia.api.models import Domain
from certbot_dns_variomedia.core.zones import ZoneMap, place
from certbot_dns_variomedia.errors import ConfigurationError, ZoneError
from certbot_dns_variomedia.names import identifier_name

ACCOUNT = ZoneMap(
    [
        Domain("example.de", has_presence=True),
        Domain("shop.example.de", has_presence=True),
        Domain("xn--bcher-kva.de", has_presence=True),
        Domain("acme-only.net", has_presence=True),
        Domain("registered-only.com", has_presence=False),
    ]
)


def no_cnames(name: str) -> str | None:
    return None


def test_longest_account_domain_wins() -> None:
    [p] = place(["www.shop.example.de"], ACCOUNT, no_cnames)
    assert (p.zone, p.record_name) == ("shop.example.de", "_acme-challenge.www")


def test_apex_and_wildcard_land_on_one_name() -> None:
    a, w = place(["Example.de", "*.example.de."], ACCOUNT, no_cnames)
    assert a.fqdn == w.fqdn == "_acme-challenge.example.de"
    assert (a.zone, a.record_name) == ("example.de", "_acme-challenge")


def test_internationalised_names_go_to_the_api_in_ace() -> None:
    [p] = place(["*.bücher.de"], ACCOUNT, no_cnames)
    assert (p.zone, p.record_name) == ("xn--bcher-kva.de", "_acme-challenge")


def test_name_outside_the_account_lists_the_account() -> None:
    with pytest.raises(ZoneError) as e:
        place(["www.example.org"], ACCOUNT, no_cnames)
    message = str(e.value)
    assert "www.example.org" in message
    assert "example.de" in message
    assert "acme-only.net" in message


def test_domain_without_presence_says_so() -> None:
    with pytest.raises(ZoneError, match="not hosted at Variomedia"):
        place(["registered-only.com"], ACCOUNT, no_cnames)


def test_cname_delegation_writes_at_the_target() -> None:
    chain = {
        "_acme-challenge.example.de": "_acme-challenge.example.de.acme-only.net.",
    }
    [p] = place(["example.de"], ACCOUNT, chain.get)
    assert p.delegated
    assert (p.zone, p.record_name) == ("acme-only.net", "_acme-challenge.example.de")
    assert p.challenge_name == "_acme-challenge.example.de"


def test_cname_loop_is_an_error_not_a_hang() -> None:
    chain = {
        "_acme-challenge.example.de": "a.acme-only.net",
        "a.acme-only.net": "b.acme-only.net",
        "b.acme-only.net": "_acme-challenge.example.de",
    }
    with pytest.raises(ZoneError, match="loops"):
        place(["example.de"], ACCOUNT, chain.get)


def test_cname_to_a_foreign_zone_names_the_delegation() -> None:
    chain = {"_acme-challenge.example.de": "_acme-challenge.elsewhere.org"}
    with pytest.raises(ZoneError, match="reached through the CNAME"):
        place(["example.de"], ACCOUNT, chain.get)


@pytest.mark.parametrize(
    ("target", "said"),
    [
        (
            "*.acme-only.net.",
            "points to '*.acme-only.net', where no record can be written (label '*')",
        ),
        ("_acme-challenge.*.acme-only.net", "(label '*')"),
        ("bad-.acme-only.net", "(label 'bad-')"),
        ("a..acme-only.net", "points to a name that is not valid: 'a..acme-only.net' has an empty"),
        ("x\\032y.acme-only.net", "points to a name that is not valid"),
    ],
)
def test_cname_targets_are_checked_like_certificate_names(target: str, said: str) -> None:
    """They come from an unauthenticated resolver, and a record is written at the last one."""
    chain = {"_acme-challenge.example.de": target}
    with pytest.raises(ZoneError, match=re.escape(said)):
        place(["example.de"], ACCOUNT, chain.get)


@pytest.mark.parametrize("bad", ["*.*.example.de", "www.*.example.de", "localhost", "a_b!.de"])
def test_invalid_certificate_names(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        identifier_name(bad)
