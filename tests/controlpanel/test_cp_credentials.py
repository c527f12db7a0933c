"""Control Panel credentials: INI file (checked like the plugin's) or environment; URL rules."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from certbot_dns_variomedia.controlpanel.credentials import (
    base_url_for_domain,
    load_controlpanel_credentials,
    normalize_base_url,
)
from certbot_dns_variomedia.errors import ConfigurationError

GOOD = """\
cp_domain = provider.example
cp_app_id = 7824315218
cp_app_version = 1.0.0.0
cp_token = qeMYTybs5L-secret-token
cp_username = admin@example.de
cp_password = hunter2-secret
"""


def _write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "cp.ini"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_file_with_domain_gives_the_documented_url(tmp_path: Path) -> None:
    creds = load_controlpanel_credentials(_write(tmp_path, GOOD))
    assert creds.base_url == "https://cp.provider.example/api/v0/"
    assert creds.host == "cp.provider.example"
    assert creds.app_id == "7824315218"
    assert creds.username == "admin@example.de"
    assert creds.password == "hunter2-secret"
    assert str(tmp_path) in creds.source
    shown = repr(creds)
    assert "hunter2-secret" not in shown
    assert "qeMYTybs5L-secret-token" not in shown


def test_cp_url_and_override(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "cp_url = https://panel.example/api/v0\n")
    assert load_controlpanel_credentials(path).base_url == "https://panel.example/api/v0/"
    overridden = load_controlpanel_credentials(path, base_url="http://127.0.0.1:8080/api/v0/")
    assert overridden.base_url == "http://127.0.0.1:8080/api/v0/"


def test_unsafe_permissions_are_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    path = _write(tmp_path, GOOD, mode=0o644)
    load_controlpanel_credentials(path)
    assert "Unsafe permissions" in caplog.text
    assert f"chmod 600 {path}" in caplog.text


def test_missing_keys_and_typos_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cp_password is missing"):
        load_controlpanel_credentials(
            _write(tmp_path, GOOD.replace("cp_password = hunter2-secret\n", ""))
        )
    with pytest.raises(ConfigurationError, match="did you mean 'cp_token'"):
        load_controlpanel_credentials(_write(tmp_path, GOOD.replace("cp_token", "cp_tokn")))
    with pytest.raises(ConfigurationError, match=r"give cp_url .* or cp_domain"):
        load_controlpanel_credentials(
            _write(tmp_path, GOOD.replace("cp_domain = provider.example\n", ""))
        )


def test_environment(tmp_path: Path) -> None:
    env = {
        "CP_URL": "https://cp.provider.example/api/v0/",
        "CP_APP_ID": "app",
        "CP_APP_VERSION": "1.0.0.0",
        "CP_TOKEN": "token-token",
        "CP_USERNAME": "u@example.de",
        "CP_PASSWORD": "pw-pw-pw",
    }
    creds = load_controlpanel_credentials(environ=env)
    assert creds.base_url == "https://cp.provider.example/api/v0/"
    assert creds.source.startswith("the environment")
    del env["CP_PASSWORD"]
    with pytest.raises(ConfigurationError, match=r"--credentials FILE .* CP_PASSWORD"):
        load_controlpanel_credentials(environ=env)


def test_plain_http_only_to_loopback() -> None:
    assert normalize_base_url("http://127.0.0.1:9/api/v0") == "http://127.0.0.1:9/api/v0/"
    assert normalize_base_url("http://[::1]:9/api/v0/") == "http://[::1]:9/api/v0/"
    assert normalize_base_url("http://localhost:9/") == "http://localhost:9/"
    with pytest.raises(ConfigurationError, match="plain http"):
        normalize_base_url("http://cp.provider.example/api/v0/")
    with pytest.raises(ConfigurationError, match="not an http"):
        normalize_base_url("ftp://cp.provider.example/")
    with pytest.raises(ConfigurationError, match="query, fragment or user"):
        normalize_base_url("https://user:pw@cp.provider.example/")


def test_domain_must_be_a_domain() -> None:
    assert base_url_for_domain("Provider.Example.") == "https://cp.provider.example/api/v0/"
    with pytest.raises(ConfigurationError, match="not a domain name"):
        base_url_for_domain("https://provider.example")
