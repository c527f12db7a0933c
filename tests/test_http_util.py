"""http_util: the rules both API clients share."""

from __future__ import annotations

import datetime

import pytest

from certbot_dns_variomedia.http_util import is_loopback_host, retry_after, scrub

NOON = datetime.datetime(2024, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": " 1.5 "}, 1.5),
        ({"Retry-After": "-2"}, 0.0),
        ({"Retry-After": "Mon, 01 Jan 2024 12:00:05 GMT"}, 5.0),
        ({"Retry-After": "Mon, 01 Jan 2024 11:00:00 GMT"}, 0.0),
        # Measured against the answer's Date, not this host's clock (here an hour behind).
        (
            {
                "Retry-After": "Mon, 01 Jan 2024 13:00:05 GMT",
                "Date": "Mon, 01 Jan 2024 13:00:00 GMT",
            },
            5.0,
        ),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": ""}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(headers, NOON) == seconds


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.0.0.153", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("api.variomedia.de", False),
        ("localhost.example", False),
    ],
)
def test_plain_http_only_to_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_scrub_hides_secrets_control_characters_and_length() -> None:
    token = "tok/en+42"
    text = f"You sent:\r\nAuthorization: token {token}\x1b[2J\u202e; echoed: tok%2Fen%2B42"
    assert scrub(text, [token]) == "You sent:  Authorization: token *** [2J ; echoed: ***"
    assert scrub("x" * 1000, [token]) == "x" * 299 + "\u2026"
    assert len(scrub("y" * 50, [], limit=10)) == 10
    assert scrub("nothing to hide", ["", "absent"]) == "nothing to hide"
