"""Credentials files and environment: each bad input gets a message that names the fix."""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path

import pytest

from certbot_dns_variomedia.credentials import load_variomedia_credentials
from certbot_dns_variomedia.errors import ConfigurationError

TOKEN = "a1b2c3d4e5f6a7b8c9d0e1f2"


def ini(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "variomedia.ini"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_good_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = ini(tmp_path, f"dns_variomedia_token = {TOKEN}\n")
    creds = load_variomedia_credentials(path)
    assert creds.token == TOKEN
    assert creds.api_url == "https://api.variomedia.de"
    assert str(path) in creds.source
    assert TOKEN not in repr(creds)
    assert "Unsafe permissions" not in caplog.text


def test_world_readable_file_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = ini(tmp_path, f"dns_variomedia_token = {TOKEN}\n", mode=0o644)
    with caplog.at_level(logging.WARNING):
        load_variomedia_credentials(path)
    assert "Unsafe permissions on credentials configuration file" in caplog.text
    assert f"chmod 600 {path}" in caplog.text


def test_a_group_writable_file_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever can write the file can point dns_variomedia_api_url at their own server."""
    path = ini(tmp_path, f"dns_variomedia_token = {TOKEN}\n", mode=0o620)
    with caplog.at_level(logging.WARNING):
        load_variomedia_credentials(path)
    assert caplog.messages == [
        f"Unsafe permissions on credentials configuration file: {path} (writable by its group, "
        f"who could send the secrets to a server of their choosing; run: chmod 600 {path})"
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_file_of_another_user_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = ini(tmp_path, f"dns_variomedia_token = {TOKEN}\n")
    os.chown(path, 4242, 4242)
    with caplog.at_level(logging.WARNING):
        load_variomedia_credentials(path)
    assert caplog.messages == [
        f"Unsafe owner of credentials configuration file: {path} belongs to uid 4242, who "
        f"could send the secrets to a server of their choosing; run: chown 0 {path}"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "dns_variomedia_token is missing"),
        ("dns_variomedia_token =\n", "dns_variomedia_token is empty"),
        (f"dns_variomedia_tokne = {TOKEN}\n", "did you mean 'dns_variomedia_token'"),
        ("dns_variomedia_token = has space inside\n", "malformed"),
        ("dns_variomedia_token = short\n", "malformed"),
        ("[section]\ndns_variomedia_token = x\n", "section"),
        (f'dns_variomedia_token = "{TOKEN}\n', "line 1 cannot be read"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    path = ini(tmp_path, text)
    with pytest.raises(ConfigurationError) as e:
        load_variomedia_credentials(path)
    assert expected in str(e.value)
    assert str(path) in str(e.value)
    assert TOKEN not in str(e.value)


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"does not exist.*chmod 600"):
        load_variomedia_credentials(tmp_path / "nope.ini")


def _load_as_nobody(path: str, out: multiprocessing.Queue[str]) -> None:
    if os.geteuid() == 0:  # root reads any file: drop to an ordinary user, as users run it
        os.setgid(65534)
        os.setuid(65534)
    try:
        load_variomedia_credentials(path)
        out.put("loaded")
    except ConfigurationError as e:
        out.put(str(e))


def test_unreadable_file(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    path = ini(tmp_path, f"dns_variomedia_token = {TOKEN}\n", mode=0o600)
    if os.geteuid() != 0:
        path.chmod(0o000)
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[str] = ctx.Queue()
    proc = ctx.Process(target=_load_as_nobody, args=(str(path), out))
    proc.start()
    proc.join(timeout=30)
    message = out.get(timeout=5)
    assert "cannot be read by this user" in message
    assert TOKEN not in message


def test_environment() -> None:
    creds = load_variomedia_credentials(
        environ={"VARIOMEDIA_API_TOKEN": TOKEN, "VARIOMEDIA_API_URL": "http://127.0.0.1:1"}
    )
    assert (creds.token, creds.api_url) == (TOKEN, "http://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="VARIOMEDIA_API_TOKEN"):
        load_variomedia_credentials(environ={})
