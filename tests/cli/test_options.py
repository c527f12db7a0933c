"""Option values the command accepts: TTLs within Variomedia's limits, finite seconds."""

from __future__ import annotations

import pytest

from certbot_dns_variomedia.cli.options import seconds_value, ttl_value


@pytest.mark.parametrize(("text", "ttl"), [("300", 300), ("86400", 86400)])
def test_ttl_limits_are_variomedias(text: str, ttl: int) -> None:
    assert ttl_value(text) == ttl


@pytest.mark.parametrize("text", ["299", "86401", "5m", ""])
def test_bad_ttl_is_a_usage_error(text: str) -> None:
    with pytest.raises(Exception, match="seconds"):
        ttl_value(text)


def test_seconds_must_be_finite_and_not_negative() -> None:
    assert seconds_value("2.5") == 2.5
    for bad in ("-1", "inf", "nan", "x"):
        with pytest.raises(Exception, match="seconds"):
            seconds_value(bad)
