"""The hook environment certbot passes to the manual hooks."""

from __future__ import annotations

import pytest

from certbot_dns_variomedia.cli.hooks import HookCall
from certbot_dns_variomedia.cli.options import UsageError


def test_hook_call_reads_certbots_variables() -> None:
    call = HookCall.from_environ(
        {
            "CERTBOT_DOMAIN": "example.test",
            "CERTBOT_VALIDATION": "abc",
            "CERTBOT_REMAINING_CHALLENGES": "1",
        }
    )
    assert call == HookCall("example.test", "abc", 1)
    # Without the count (another ACME client) every call is the last of its batch.
    alone = HookCall.from_environ({"CERTBOT_DOMAIN": "a.test", "CERTBOT_VALIDATION": "v"})
    assert alone.remaining == 0


def test_hook_call_without_certbot_says_how_it_is_meant_to_run() -> None:
    with pytest.raises(UsageError, match="CERTBOT_DOMAIN and CERTBOT_VALIDATION not set"):
        HookCall.from_environ({})
    with pytest.raises(UsageError, match="must be a number"):
        HookCall.from_environ(
            {
                "CERTBOT_DOMAIN": "a.test",
                "CERTBOT_VALIDATION": "v",
                "CERTBOT_REMAINING_CHALLENGES": "-1",
            }
        )
