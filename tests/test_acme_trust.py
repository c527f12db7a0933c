"""What `variomedia-dns issue` does not take on the CA's word: the directory URL's scheme, and
authorizations for names that were not ordered. (End to end with a rogue CA: the reliability
suite's test_hostile_servers.py.)"""

from __future__ import annotations

import re

import pytest
from acme import challenges, messages

from certbot_dns_variomedia.acme_trust import (
    UnrequestedIdentifier,
    check_authorizations,
    check_directory_url,
)
from certbot_dns_variomedia.errors import ConfigurationError


@pytest.mark.parametrize(
    "url",
    [
        "https://acme-v02.api.letsencrypt.org/directory",
        "http://127.0.0.1:14000/dir",
        "http://localhost/dir",
        "http://[::1]:14000/dir",
    ],
)
def test_https_anywhere_and_plain_http_only_on_this_machine(url: str) -> None:
    check_directory_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://ca.example.test/dir", "uses plain http:// to a host that is not this machine"),
        ("http://127.0.0.1.example.test/dir", "plain http://"),
        ("ftp://ca.example.test/dir", "is not an http(s) URL"),
        ("ca.example.test/dir", "is not an http(s) URL"),
    ],
)
def test_other_directory_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        check_directory_url(url)


def _order(
    *names: str, typ: messages.IdentifierType = messages.IDENTIFIER_FQDN
) -> messages.OrderResource:
    authorizations = [
        messages.AuthorizationResource(
            uri=f"https://ca.test/authz/{i}",
            body=messages.Authorization(
                identifier=messages.Identifier(typ=typ, value=name.removeprefix("*.")),
                wildcard=name.startswith("*.") or None,
                challenges=[
                    messages.ChallengeBody(
                        chall=challenges.DNS01(token=b"t" * 32), uri="https://ca.test/c"
                    )
                ],
                status=messages.STATUS_PENDING,
            ),
        )
        for i, name in enumerate(names)
    ]
    return messages.OrderResource(body=messages.Order(), authorizations=authorizations)


def test_authorizations_for_the_ordered_names_pass() -> None:
    check_authorizations(
        _order("example.test", "*.example.test"), ["example.test", "*.example.test"]
    )
    check_authorizations(_order("Example.TEST."), ["example.test"])


@pytest.mark.parametrize(
    ("given", "wanted", "foreign"),
    [
        (["www.other.test"], ["example.test"], "www.other.test"),
        (["example.test", "www.other.test"], ["example.test"], "www.other.test"),
        (["*.example.test"], ["example.test"], "*.example.test"),  # not the same name
    ],
)
def test_an_authorization_nobody_ordered_is_refused(
    given: list[str], wanted: list[str], foreign: str
) -> None:
    with pytest.raises(
        UnrequestedIdentifier, match=rf"authorization for {foreign.replace('*', '[*]')}, which"
    ):
        check_authorizations(_order(*given), wanted)


def test_an_ip_address_authorization_is_refused() -> None:
    with pytest.raises(UnrequestedIdentifier):
        check_authorizations(_order("127.0.0.1", typ=messages.IDENTIFIER_IP), ["127.0.0.1"])
