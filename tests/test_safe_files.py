"""The safe-open rules on a real file system: planted links, foreign owners, writable directories.

The tests run as root (as CI does), so they can hand files to other users with chown; the rules
for an ordinary user are checked twice: with a chosen `euid`, and in a real process that runs
as ``nobody``.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_dns_variomedia.pacing import FileLedger, RequestPacer
from certbot_dns_variomedia.safe_files import UnsafePathError, lock, open_file, safe_directory
from certbot_dns_variomedia.testing.lock_holder import holding_lock

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand files to others")

OTHER = 4242  # a uid that is neither root nor us
VICTIM_TEXT = "root's own file\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A root-owned file an attacker would like root to overwrite."""
    path = tmp_path / "victim"
    path.write_text(VICTIM_TEXT)
    return path


def _open(path: Path, euid: int | None = None) -> int:
    return open_file(path, os.O_RDWR | os.O_CREAT, 0o600, euid=euid)


def _write(fd: int, data: bytes) -> None:
    try:
        os.ftruncate(fd, 0)
        os.write(fd, data)
    finally:
        os.close(fd)


def test_a_safe_path_is_created_private_and_used(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "app" / "ledger.json"
    _write(_open(path), b"{}")
    assert path.read_bytes() == b"{}"
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)


def test_a_symlinked_file_is_refused_and_its_target_untouched(tmp_path: Path, victim: Path) -> None:
    link = tmp_path / "ledger.json"
    link.symlink_to(victim)
    with pytest.raises(UnsafePathError, match=r"ledger\.json is a symbolic link"):
        _write(_open(link), b"owned")
    assert victim.read_text() == VICTIM_TEXT


def test_a_dangling_symlink_is_not_created_through(tmp_path: Path) -> None:
    link = tmp_path / "ledger.json"
    link.symlink_to(tmp_path / "would-be-created")
    with pytest.raises(UnsafePathError, match="is a symbolic link"):
        _open(link)
    assert not (tmp_path / "would-be-created").exists()


def test_a_symlinked_directory_of_another_user_is_refused(tmp_path: Path, victim: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").symlink_to(victim.parent)
    os.lchown(home / "cache", OTHER, OTHER)
    with pytest.raises(UnsafePathError, match=r"cache is a symbolic link made by uid 4242"):
        _write(_open(home / "cache" / "victim"), b"owned")
    assert victim.read_text() == VICTIM_TEXT


def test_a_symlinked_directory_of_our_own_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "alias").symlink_to("real")
    _write(_open(tmp_path / "alias" / "sub" / "f.json"), b"x")
    assert (tmp_path / "real" / "sub" / "f.json").read_bytes() == b"x"
    assert safe_directory(tmp_path / "alias") == tmp_path / "real"


def test_a_directory_of_another_user_on_the_way_is_refused(tmp_path: Path, victim: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, OTHER, OTHER)
    with pytest.raises(UnsafePathError, match=r"home belongs to uid 4242, and only root"):
        _open(home / "ledger.json")
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o777])
def test_a_directory_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(UnsafePathError, match=f"can be written by other users \\(mode 0{mode:o}"):
        _open(shared / "deep" / "ledger.json")
    assert list(shared.iterdir()) == []


def test_a_sticky_directory_is_passed_but_a_foreign_entry_in_it_is_not(tmp_path: Path) -> None:
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    _write(_open(sticky / "mine" / "f.json"), b"x")
    (sticky / "theirs").mkdir()
    os.chown(sticky / "theirs", OTHER, OTHER)
    with pytest.raises(UnsafePathError, match="theirs belongs to uid 4242"):
        _open(sticky / "theirs" / "f.json")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: os.chown(p, OTHER, OTHER), "belongs to uid 4242, not to user root"),
        (lambda p: p.chmod(0o666), r"can be written by other users \(mode 0666\)"),
        (lambda p: os.link(p, p.with_name("second-name")), r"has other names \(hard links\)"),
    ],
)
def test_a_file_that_is_not_ours_alone_is_refused(
    tmp_path: Path, setup: object, message: str
) -> None:
    path = tmp_path / "ledger.json"
    path.write_text("{}")
    path.chmod(0o600)
    assert callable(setup)
    setup(path)
    with pytest.raises(UnsafePathError, match=message):
        _open(path)


def test_a_planted_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "ledger.json", 0o600)
    started = time.monotonic()
    with pytest.raises(UnsafePathError, match="is not a regular file"):
        open_file(tmp_path / "ledger.json", os.O_RDONLY)
    assert time.monotonic() - started < 1.0


def test_the_rules_for_an_ordinary_user(tmp_path: Path) -> None:
    """With a chosen euid: root's directories are trusted by everyone, a user's only by them."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    os.chown(home, OTHER, OTHER)
    assert safe_directory(home, euid=OTHER) == home
    with pytest.raises(UnsafePathError, match="belongs to uid 4242, and only root or uid 4243"):
        safe_directory(home, euid=OTHER + 1)
    with pytest.raises(UnsafePathError, match="belongs to uid 4242, and only root or user root"):
        safe_directory(home, euid=0)


# -- as a real ordinary user ---------------------------------------------------------------------


def _as_user(uid: int, gid: int, paths: list[Path]) -> tuple[dict[str, str], str]:
    """Open each path as `uid` in a forked child (this interpreter is not readable by others,
    so it cannot be started again as them), then use the last one as a pacing ledger.
    Returns what each open said and the warnings the ledger logged."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            results = {}
            for path in paths:
                try:
                    os.close(open_file(path, os.O_RDWR | os.O_CREAT, 0o600))
                    results[str(path)] = "ok"
                except UnsafePathError as e:
                    results[str(path)] = str(e)
            records: list[str] = []
            handler = logging.Handler()
            handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
            logging.getLogger("certbot_dns_variomedia").addHandler(handler)
            with RequestPacer(ledger=FileLedger(paths[-1], lock_timeout=0.5)).slot():
                pass
            os.write(write_end, json.dumps([results, records]).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    results, records = json.loads(data)
    return results, "\n".join(records)


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory ``nobody`` can reach (pytest's own is private to root)."""
    top = Path(tempfile.mkdtemp(prefix="safe-files-"))
    try:
        top.chmod(0o755)
        yield top
    finally:
        shutil.rmtree(top)


def test_a_real_ordinary_user_keeps_its_own_ledger_and_refuses_planted_places(
    world: Path,
) -> None:
    nobody = pwd.getpwnam("nobody")
    home = world / "home"
    home.mkdir(mode=0o700)
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    shared = world / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # no sticky bit: anyone may rename what is in it
    (home / "planted").symlink_to(world)
    os.lchown(home / "planted", OTHER, OTHER)
    own = home / ".cache" / "app" / "ledger.json"
    paths = [shared / "ledger.json", home / "planted" / "ledger.json", own]
    results, warnings = _as_user(nobody.pw_uid, nobody.pw_gid, paths)
    assert results[str(shared / "ledger.json")] == (
        f"{shared} can be written by other users (mode 0777)"
    )
    assert results[str(home / "planted" / "ledger.json")] == (
        f"{home / 'planted'} is a symbolic link made by uid 4242"
    )
    assert results[str(own)] == "ok"
    assert own.stat().st_uid == nobody.pw_uid
    assert json.loads(own.read_text())["entries"][0][2] is not None  # the ledger was used
    assert warnings == ""
    assert list(shared.iterdir()) == []


# -- the lock --------------------------------------------------------------------------------------


def test_a_held_lock_is_waited_for_a_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    with holding_lock(path):
        fd = _open(path)
        try:
            started = time.monotonic()
            assert lock(fd, 0.3) is False
            assert 0.3 <= time.monotonic() - started < 2.0
        finally:
            os.close(fd)
    fd = _open(path)
    try:
        assert lock(fd, 0.3) is True  # free again once its holder is gone
    finally:
        os.close(fd)
