"""Name normalization to ACE and names relative to a zone: pure functions, tested directly."""

from __future__ import annotations

import pytest

from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.names import relative_name, to_ace


@pytest.mark.parametrize(
    ("given", "ace"),
    [
        ("Example.DE", "example.de"),
        ("example.de.", "example.de"),
        ("Bücher.de", "xn--bcher-kva.de"),
        ("_acme-challenge.WWW.example.de", "_acme-challenge.www.example.de"),
    ],
)
def test_to_ace(given: str, ace: str) -> None:
    assert to_ace(given) == ace


@pytest.mark.parametrize("bad", ["", ".", "a..b", "exa mple.de", "x" * 64 + ".de"])
def test_to_ace_refuses_what_is_not_a_name(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        to_ace(bad)


def test_relative_name() -> None:
    assert relative_name("_acme-challenge.www.example.de", "example.de") == "_acme-challenge.www"
    assert relative_name("example.de", "example.de") == ""
    with pytest.raises(ValueError, match="not in"):
        relative_name("example.com", "example.de")
