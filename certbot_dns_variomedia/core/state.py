"""The ids of records this project wrote and has not removed yet, kept on disk.

A run can be killed between writing a record and removing it. The id is saved the moment the API
returns it and dropped only once the record is gone, so the next run can remove exactly the
records that were left behind — by id, never by guessing from a name or a value.

The file is small JSON, replaced atomically (write, fsync, rename) under an exclusive lock, so
parallel runs and hook invocations never lose each other's entries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class StoredRecord:
    """A record this project created and still has to remove."""

    record_id: str
    account: str
    zone: str
    fqdn: str
    value: str
    created: float = dataclasses.field(default_factory=time.time)
    job_id: str | None = None
    deleting: bool = False  # a DELETE was accepted; kept until the record is seen gone
    batch: str | None = None  # manual hooks: records written but not yet waited for
    owner: str | None = None  # the process that wrote it (see `process_owner`)


def process_owner(pid: int | None = None) -> str:
    """``pid:start-time``: names one process even after its pid is reused."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that wrote an entry still runs (so its records are in use)."""
    if not owner:
        return False
    pid_text, _, start = owner.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    return _start_time(pid) == start != ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' if there is no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


class StateFile:
    """One JSON file of `StoredRecord` entries; every change is a locked, atomic edit."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @contextlib.contextmanager
    def edit(self) -> Iterator[list[StoredRecord]]:
        """Exclusive access to the entries; changes to the list are saved on exit."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            records = self._load()
            before = [dataclasses.asdict(r) for r in records]
            yield records
            if [dataclasses.asdict(r) for r in records] != before:
                self._save(records)
        finally:
            os.close(fd)

    def records(self) -> list[StoredRecord]:
        """A snapshot of the entries."""
        with self.edit() as records:
            return list(records)

    def add(self, record: StoredRecord) -> None:
        with self.edit() as records:
            records.append(record)

    def discard(self, record_ids: set[str]) -> None:
        with self.edit() as records:
            records[:] = [r for r in records if r.record_id not in record_ids]

    def _load(self) -> list[StoredRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            raw = json.loads(text)
            fields = {f.name for f in dataclasses.fields(StoredRecord)}
            return [
                StoredRecord(**{k: v for k, v in entry.items() if k in fields})
                for entry in raw["records"]
            ]
        except (ValueError, KeyError, TypeError) as e:
            # Never silently forget records: keep the unreadable file for a human to read.
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            os.replace(self.path, aside)
            logger.warning(
                "The state file %s could not be read (%s); it was moved to %s. Records it "
                "listed may still exist: check them with 'variomedia-dns records list'.",
                self.path,
                e.__class__.__name__,
                aside,
            )
            return []

    def _save(self, records: list[StoredRecord]) -> None:
        if not records:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        data = {"version": FORMAT_VERSION, "records": [dataclasses.asdict(r) for r in records]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
