"""A set of files replaced as one: a reader, or a crash, never sees a new key beside an old
certificate.

Renaming four files one after another leaves a moment (or, after a crash, for good) in which
some are new and some old. So, as certbot's ``live/`` links do, every set is written complete
into a directory of its own under ``.sets/``, and ``current`` is a symbolic link to the newest
complete one. Each ``NAME`` the user sees is a link to ``current/NAME``. Switching to a new set
is one atomic rename of ``current``: before it every name shows the old set, after it the new.

A directory written by an older version (plain files) is first turned into this layout with its
files kept as a set of their own, so that even the conversion never shows a mixed set.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

SETS = ".sets"
CURRENT = "current"


def write_temp(directory: Path, name: str, data: bytes, mode: int) -> Path:
    """`data` in a new file beside its final name, on disk (fsync) before this returns."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp creates 0600: only ever loosened for public files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes, mode: int) -> Path:
    """One file replaced whole: written to a temporary name, flushed, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(write_temp(path.parent, path.name, data, mode), path)
    fsync_directory(path.parent)
    return path


def write_set(
    directory: Path, files: Mapping[str, tuple[bytes, int]], managed: Iterable[str]
) -> dict[str, Path]:
    """Write every ``name: (data, mode)`` as a new set, then switch `directory` to it.

    `managed` are all names a set may have. One of them not in `files` that shows the current
    set (``privkey.pem`` when a CSR was given) keeps showing the file it showed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name in files:  # found before anything changes, not halfway through
        if (directory / name).is_dir() and not (directory / name).is_symlink():
            raise IsADirectoryError(
                errno.EISDIR, "a directory is in the way", str(directory / name)
            )
    sets = directory / SETS
    sets.mkdir(mode=0o755, exist_ok=True)
    _adopt_plain_files(directory, managed)
    previous = _current(directory)
    new = Path(tempfile.mkdtemp(dir=sets, prefix="set-"))
    try:
        new.chmod(0o755)  # the public files are read through it; the key keeps its 0600
        for name, (data, mode) in files.items():
            os.replace(write_temp(new, name, data, mode), new / name)
        if previous is not None:
            for name in managed:
                if name not in files and (previous / name).is_file():
                    os.link(previous / name, new / name)
        fsync_directory(new)
        _switch(directory, new)
    except BaseException:
        if _current(directory) != new:
            shutil.rmtree(new, ignore_errors=True)
        raise
    for name in files:
        _link(directory, name)
    _prune(sets, keep={new, previous})
    return {name: directory / name for name in files}


def _current(directory: Path) -> Path | None:
    link = directory / CURRENT
    return (directory / os.readlink(link)) if link.is_symlink() else None


def _switch(directory: Path, target: Path) -> None:
    """Point ``current`` at `target` with one rename."""
    tmp = directory / f".{CURRENT}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.relpath(target, directory), tmp)
    os.replace(tmp, directory / CURRENT)
    fsync_directory(directory)


def _link(directory: Path, name: str) -> None:
    """``NAME`` → ``current/NAME``, made once (a rename over whatever was there)."""
    path = directory / name
    wanted = os.path.join(CURRENT, name)
    if path.is_symlink() and os.readlink(path) == wanted:
        return
    tmp = directory / f".{name}.{os.getpid()}.link"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(wanted, tmp)
    os.replace(tmp, path)


def _adopt_plain_files(directory: Path, managed: Iterable[str]) -> None:
    """Plain files of an older version become a set of their own, shown as before."""
    plain = [n for n in managed if (directory / n).is_file() and not (directory / n).is_symlink()]
    if not plain:
        return
    current = _current(directory)
    if current is None:
        current = Path(tempfile.mkdtemp(dir=directory / SETS, prefix="set-"))
        current.chmod(0o755)
        for name in plain:
            os.link(directory / name, current / name)  # the same file, not a copy
        fsync_directory(current)
        _switch(directory, current)
    for name in plain:
        if not (current / name).exists():
            os.link(directory / name, current / name)
        _link(directory, name)


def _prune(sets: Path, keep: set[Path | None]) -> None:
    """Sets older than the previous one: no reader can still be switching away from them."""
    kept = {p.resolve() for p in keep if p is not None}
    for entry in sets.iterdir():
        if entry.resolve() not in kept:
            shutil.rmtree(entry, ignore_errors=True)
