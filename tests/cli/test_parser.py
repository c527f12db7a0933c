"""The command line parser: every command has help, and a wrong command line exits 2."""

from __future__ import annotations

import pytest

from certbot_dns_variomedia import cli

HELP = [
    [],
    ["certbot-auth"],
    ["certbot-cleanup"],
    ["records"],
    ["records", "list"],
    ["records", "add"],
    ["records", "delete"],
    ["lock"],
    ["check"],
    ["doctor"],
    ["issue"],
]


@pytest.mark.parametrize("command", HELP, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*command, "--help"]) == 0
    assert "usage: variomedia-dns" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["records"],
        ["records", "add", "x.example.test", "TXT"],
        ["records", "add", "x.example.test", "BOGUS", "v"],
        ["records", "add", "x.example.test", "TXT", "v", "--ttl", "30"],
        ["lock", "maybe", "example.test"],
        ["check"],
        ["issue", "-d", "example.test"],
        ["issue", "--out", "x", "--staging", "--server", "https://ca.test/dir"],
        ["doctor", "-v", "-q"],
    ],
    ids=lambda a: " ".join(a) or "nothing",
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert "error:" in capsys.readouterr().err
