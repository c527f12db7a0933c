"""The plugin class as certbot sees it: certbot's own DNS plugin test base, and option checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from certbot import errors
from certbot.plugins import dns_test_common
from certbot.tests import util as test_util

from certbot_dns_variomedia.plugin import Authenticator

TOKEN = "a1b2c3d4e5f6a7b8c9d0e1f2"


def make_auth(tmp_path: Path, **options: Any) -> Authenticator:
    path = tmp_path / "variomedia.ini"
    dns_test_common.write({"dns_variomedia_token": TOKEN}, str(path))
    defaults: dict[str, Any] = {
        "credentials": str(path),
        "propagation_seconds": 300,
        "ttl": 300,
        "nameservers": None,
        "update_lock": "on",
    }
    defaults.update(options)
    config = mock.MagicMock(
        **{f"dns_variomedia_{k}": v for k, v in defaults.items()}, work_dir=str(tmp_path)
    )
    return Authenticator(config, "dns-variomedia")


class AuthenticatorTest(test_util.TempDirTestCase, dns_test_common.BaseAuthenticatorTest):
    """certbot's BaseAuthenticatorTest: more_info, challenge preference, parser arguments."""

    def setUp(self) -> None:
        super().setUp()
        self.auth = make_auth(Path(self.tempdir))


def test_parser_defaults() -> None:
    add = mock.MagicMock()
    Authenticator.add_parser_arguments(add)
    defaults = {c.args[0]: c.kwargs.get("default") for c in add.call_args_list}
    assert defaults == {
        "propagation-seconds": 300,
        "credentials": None,
        "ttl": 300,
        "nameservers": None,
        "update-lock": "on",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": 299}, "must be between 300 and 86400"),
        ({"ttl": 86401}, "must be between 300 and 86400"),
        ({"propagation_seconds": -1}, "0 or more"),
        ({"nameservers": "ns1:notaport"}, "not host[:port]"),
        ({"update_lock": "maybe"}, "must be on or off"),
    ],
)
def test_bad_options_fail_before_anything_is_sent(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    auth = make_auth(tmp_path, **options)
    with (
        mock.patch("certbot_dns_variomedia.plugin.ChallengeRun") as run,
        pytest.raises(errors.PluginError, match=message.replace("[", r"\[")),
    ):
        auth.perform([])
    run.open.assert_not_called()


def test_missing_credentials_file_names_the_file(tmp_path: Path) -> None:
    auth = make_auth(tmp_path, credentials=str(tmp_path / "missing.ini"))
    with pytest.raises(errors.PluginError, match=r"missing\.ini does not exist"):
        auth.perform([])
