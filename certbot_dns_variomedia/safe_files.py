"""Opening the tool's own files so that no other user can redirect, plant or change them.

certbot often runs as root with a user's environment (``sudo -E``, ``su -p``, ``env_keep +=
HOME``), and every file the tool keeps (pacing ledger, state file, ACME account key) may then
lie under a directory another user controls. Whoever controls a directory on the way can plant
a symbolic link there and make root overwrite any file on the machine. So, as OpenSSH does for
``~/.ssh``, a path is used only when

* every directory from ``/`` down to the file is owned by root or by us, and no one else can
  write to it (a sticky directory such as ``/tmp`` excepted: others cannot rename what is ours
  in it);
* a symbolic link on the way was made by root or by us (in such a directory), never by another;
* the file itself is a regular file owned by us, not a link, writable by no one else, and, if
  it is written in place, has no second name (a hard link to a file elsewhere).

Once every directory on the way is safe, no one else can change what a path names, so the
checks cannot be raced. Every function takes `euid` so the rules can be tested for any user.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pwd
import stat
from pathlib import Path

from .clock import SYSTEM_CLOCK, Clock
from .errors import ConfigurationError

_MAX_LINKS = 40  # as the kernel's own limit on links followed in one path
_LOCK_POLL = 0.05


class UnsafePathError(ConfigurationError):
    """A file, or a directory on the way to it, that another user could plant or change."""


def user_name(uid: int) -> str:
    """``user NAME``, or ``uid N`` for a uid without a name, for messages."""
    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"


def _euid(euid: int | None) -> int:
    return os.geteuid() if euid is None else euid


def trusted_owner(uid: int, euid: int | None = None) -> bool:
    """Whether a file of `uid` is ours to trust: our own, or root's."""
    return uid in (0, _euid(euid))


def _check_directory(path: Path, st: os.stat_result, euid: int) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(f"{path} is not a directory")
    if not trusted_owner(st.st_uid, euid):
        raise UnsafePathError(
            f"{path} belongs to {user_name(st.st_uid)}, and only root or {user_name(euid)} may own "
            "the directories on the way"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise UnsafePathError(
            f"{path} can be written by other users (mode {stat.S_IMODE(st.st_mode):04o})"
        )


def safe_directory(
    path: str | os.PathLike[str], *, create: bool = False, euid: int | None = None
) -> Path:
    """`path` without symbolic links, after checking every directory from ``/`` down.

    Missing directories are created (mode 0700) when `create` is true; otherwise a missing one
    raises `FileNotFoundError`. Raises `UnsafePathError` naming the first unsafe place.
    """
    uid = _euid(euid)
    todo = list(Path(os.path.abspath(path)).parts[1:])
    current = Path("/")
    _check_directory(current, os.lstat(current), uid)
    links = 0
    while todo:
        name = todo.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = current.parent  # `current` has no links in it: its parent was checked
            continue
        candidate = current / name
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):  # someone was quicker: checked below
                os.mkdir(candidate, 0o700)
            st = os.lstat(candidate)
        if stat.S_ISLNK(st.st_mode):
            if not trusted_owner(st.st_uid, uid):
                raise UnsafePathError(
                    f"{candidate} is a symbolic link made by {user_name(st.st_uid)}"
                )
            links += 1
            if links > _MAX_LINKS:
                raise UnsafePathError(f"{path} has too many symbolic links on the way")
            target = Path(os.readlink(candidate))
            if target.is_absolute():
                current = Path("/")
            todo = [*target.parts[1 if target.is_absolute() else 0 :], *todo]
            continue
        _check_directory(candidate, st, uid)
        current = candidate
    return current


def open_file(
    path: str | os.PathLike[str],
    flags: int,
    mode: int = 0o600,
    *,
    euid: int | None = None,
) -> int:
    """A file descriptor for `path`, opened only if the path is safe (see the module).

    With ``os.O_CREAT`` in `flags`, missing directories are created (0700) and the file with
    `mode`. Raises `UnsafePathError`, or `OSError` (e.g. `FileNotFoundError`) as `os.open`.
    """
    uid = _euid(euid)
    target = Path(path)
    directory = safe_directory(target.parent, create=bool(flags & os.O_CREAT), euid=uid)
    final = directory / target.name
    # O_NONBLOCK: a FIFO planted in our place must not hang the open; a file ignores it.
    extra = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(final, flags | extra, mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnsafePathError(f"{final} is a symbolic link") from None
        raise
    try:
        check_file(final, os.fstat(fd), euid=uid, writing=bool(flags & (os.O_WRONLY | os.O_RDWR)))
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_file(
    path: Path, st: os.stat_result, *, euid: int | None = None, writing: bool = True
) -> None:
    """Raise `UnsafePathError` unless `st` is a regular file of ours that only we can write
    (and, when `writing` to it in place, that has no other name to write through)."""
    uid = _euid(euid)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"{path} is not a regular file")
    if st.st_uid != uid:
        raise UnsafePathError(f"{path} belongs to {user_name(st.st_uid)}, not to {user_name(uid)}")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafePathError(
            f"{path} can be written by other users (mode {stat.S_IMODE(st.st_mode):04o})"
        )
    if writing and st.st_nlink > 1:
        raise UnsafePathError(f"{path} has other names (hard links) elsewhere")


def refusal(what: str, path: str | os.PathLike[str], error: UnsafePathError) -> ConfigurationError:
    """The error for a file that is not used: which file, why, and what to do."""
    return ConfigurationError(
        f"The {what} {os.fspath(path)} is not used: {error}. Keep it in a directory that "
        "belongs to this user (or root) and that no one else can write."
    )


def lock(fd: int, timeout: float, *, clock: Clock = SYSTEM_CLOCK) -> bool:
    """An exclusive ``flock`` on `fd` within `timeout` seconds; ``False`` if it stays held.

    A lock is held only for one short edit, so a lock held longer is a hung process or someone
    else's doing; either way we must not hang with it.
    """
    deadline = clock.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if clock.monotonic() >= deadline:
                return False
            clock.sleep(_LOCK_POLL)
