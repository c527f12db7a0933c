"""Which process owns a hook's records: the certbot ancestor, read from a stand-in /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from certbot_dns_variomedia.cli.hook_owner import is_certbot, owner_pid, read_process


def fake_proc(root: Path, processes: dict[int, tuple[int, list[str]]]) -> Path:
    """A /proc with `stat` and `cmdline` for pid → (ppid, argv)."""
    for pid, (ppid, argv) in processes.items():
        directory = root / str(pid)
        directory.mkdir(parents=True)
        name = Path(argv[0]).name[:15]
        (directory / "stat").write_text(f"{pid} ({name}) S {ppid} {pid} {pid} 0 -1\n")
        (directory / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return root


def test_owner_is_the_certbot_ancestor(tmp_path: Path) -> None:
    proc = fake_proc(
        tmp_path,
        {
            90: (80, ["/bin/sh", "-c", "variomedia-dns certbot-auth"]),
            80: (70, ["/usr/bin/python3", "-s", "/usr/bin/certbot", "certonly", "--manual"]),
            70: (1, ["/bin/bash"]),
        },
    )
    assert owner_pid(90, proc) == 80


def test_owner_without_certbot_is_the_nearest_ancestor_that_is_not_a_shell(
    tmp_path: Path,
) -> None:
    proc = fake_proc(
        tmp_path,
        {
            90: (85, ["sh", "-c", "variomedia-dns certbot-auth"]),
            85: (60, ["/usr/bin/env", "FOO=1", "sh", "-c", "..."]),
            60: (50, ["/usr/local/bin/acme-client", "renew"]),
            50: (1, ["/usr/sbin/cron"]),
        },
    )
    assert owner_pid(90, proc) == 60
    only_shells = fake_proc(tmp_path / "b", {90: (70, ["dash", "-c", "x"]), 70: (1, ["bash"])})
    assert owner_pid(90, only_shells) == 90  # nothing better: the parent


def test_a_shell_script_is_named_by_its_script(tmp_path: Path) -> None:
    proc = fake_proc(
        tmp_path,
        {90: (80, ["sh", "-c", "hook"]), 80: (1, ["/bin/sh", "/opt/bin/certbot", "renew"])},
    )
    assert owner_pid(90, proc) == 80


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("certbot", "renew"), True),
        (("/snap/certbot/4567/bin/python3", "-s", "/snap/certbot/4567/bin/certbot"), True),
        (("python3", "-m", "certbot", "certonly"), True),
        (("python3.11", "-mcertbot.main"), True),
        (("/usr/bin/letsencrypt",), True),
        (("certbot-dns-helper",), False),
        (("python3", "-c", "print(1)"), False),
        ((), False),
    ],
)
def test_is_certbot(argv: tuple[str, ...], expected: bool) -> None:
    assert is_certbot(argv) is expected


def test_command_names_with_spaces_and_parentheses_are_parsed(tmp_path: Path) -> None:
    directory = tmp_path / "42"
    directory.mkdir()
    (directory / "stat").write_text("42 (we (ird) name) S 7 42 42 0 -1\n")
    (directory / "cmdline").write_bytes(b"x\0")
    info = read_process(42, tmp_path)
    assert info is not None
    assert info.ppid == 7
    assert read_process(43, tmp_path) is None
