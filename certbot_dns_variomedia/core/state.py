"""The ids of records this project wrote and has not removed yet, kept on disk.

A run can be killed between writing a record and removing it. The id is saved the moment the API
returns it and dropped only once the record is gone, so the next run can remove exactly the
records that were left behind — by id, never by guessing from a name or a value.

The file is small JSON, replaced atomically (write, fsync, rename) under an exclusive lock, so
parallel runs and hook invocations never lose each other's entries. It is used only where no
other user can plant or change it (`safe_files`), and what it says is checked entry by entry:
a file that does not have the expected shape is moved aside, like one that is not JSON. Beside
the records it keeps the challenges the manual hooks' auth calls of one certbot order hand on to
its last call (`HookOrder`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import safe_files
from ..api.models import is_record_id
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
# The id of an entry noted before its POST was answered (see `core.run.ChallengeRun.present`).
UNANSWERED = "unanswered:"
_UNANSWERED_ID = re.compile(re.escape(UNANSWERED) + r"[0-9a-f]{32}")
# A run lasts minutes: an entry of another PID namespace older than this is a leftover.
FOREIGN_OWNER_MAX_AGE = 24 * 3600.0
# Each holder keeps the lock for one short edit; longer is a hung process.
LOCK_TIMEOUT = 30.0
MAX_BYTES = 16 * 1024 * 1024  # thousands of entries; a larger file is not ours


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
    batch: str | None = None  # manual hooks: the certbot run whose last cleanup call removes it
    owner: str | None = None  # the process that wrote it (see `process_owner`)


@dataclass
class HookOrder:
    """The challenges the manual hooks' auth calls of one certbot order have noted so far.

    certbot runs the auth hook once per challenge, each call a process of its own. The calls
    before the last only note their challenge here; the last call writes the whole order at once
    (`cli.hooks`), so the order costs what the plugin's costs.
    """

    owner: str  # the certbot process (see `process_owner`): its end ends the order
    remaining: int  # CERTBOT_REMAINING_CHALLENGES of the latest call noted
    challenges: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (domain, value)

    def to_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "remaining": self.remaining, "challenges": self.challenges}


@dataclass
class _Contents:
    records: list[StoredRecord]
    orders: list[HookOrder]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "records": [dataclasses.asdict(r) for r in self.records],
        }
        if self.orders:
            data["hook_orders"] = [o.to_json() for o in self.orders]
        return data


def process_owner(pid: int | None = None) -> str:
    """``pid:start-time:boot-id:pid-namespace``: names one process even after its pid is
    reused, and says where the pid means something. A state file shared with a container (the
    Docker example shares certbot's work directory) holds entries of other PID namespaces, whose
    pids name other processes here (or none)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}:{_boot_id()}:{_pid_namespace()}"


def owner_alive(owner: str | None, *, created: float | None = None) -> bool:
    """Whether the process that wrote an entry still runs (so its records are in use).

    An owner of an earlier boot is gone. An owner of another PID namespace cannot be looked up
    from here: it counts as running until its entry (`created`, UNIX time) is older than any
    run lasts (`FOREIGN_OWNER_MAX_AGE`). Owners written before namespaces were recorded
    (``pid:start-time``) are looked up here, as they always were.
    """
    if not owner:
        return False
    parts = owner.split(":")
    if len(parts) == 4:
        boot, namespace = parts[2], parts[3]
        if boot and boot != _boot_id():
            return False  # the machine restarted since: every process of then is gone
        if namespace != _pid_namespace():
            age = 0.0 if created is None else time.time() - created
            return age < FOREIGN_OWNER_MAX_AGE
    elif len(parts) != 2:
        return False
    try:
        pid = int(parts[0])
    except ValueError:
        return False
    return _start_time(pid) == parts[1] != ""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    """The inode of this process's PID namespace, e.g. ``4026531836`` ('' if unknown)."""
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:
        return ""


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

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = LOCK_TIMEOUT,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.clock = clock

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[_Contents]:
        """Exclusive access to the whole file; changes are saved on exit."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = self._open(lock_path, os.O_RDWR | os.O_CREAT)
        try:
            if not safe_files.lock(fd, self.lock_timeout, clock=self.clock):
                raise ConfigurationError(
                    f"The state file {self.path} has been locked by another process for "
                    f"{self.lock_timeout:g} s. Another run may hang: end it, and try again."
                )
            contents = self._load()
            before = contents.to_json()
            yield contents
            if contents.to_json() != before:
                self._save(contents)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def edit(self) -> Iterator[list[StoredRecord]]:
        """Exclusive access to the entries; changes to the list are saved on exit."""
        with self._transaction() as contents:
            yield contents.records

    @contextlib.contextmanager
    def edit_orders(self) -> Iterator[list[HookOrder]]:
        """Exclusive access to the manual hooks' unfinished orders; changes are saved on exit."""
        with self._transaction() as contents:
            yield contents.orders

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

    def replace(self, record: StoredRecord, record_id: str | None = None) -> None:
        """Put `record` in place of the entry with `record_id` (default: its own id)."""
        old = record.record_id if record_id is None else record_id
        with self.edit() as records:
            records[:] = [record if r.record_id == old else r for r in records]

    def _open(self, path: Path, flags: int) -> int:
        """`safe_files.open_file`, with a message that says which file and what to do."""
        try:
            return safe_files.open_file(path, flags, 0o600)
        except safe_files.UnsafePathError as e:
            raise safe_files.refusal("state file", self.path, e) from None

    def _load(self) -> _Contents:
        try:
            fd = self._open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return _Contents([], [])
        with os.fdopen(fd, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        try:
            if len(raw) > MAX_BYTES:
                raise _Mismatch(f"larger than {MAX_BYTES // 2**20} MB")
            data = json.loads(raw)
            records = _records(data)
        except (ValueError, RecursionError, _Mismatch) as e:
            why = str(e) if isinstance(e, _Mismatch) else "not JSON"
            # Never silently forget records: keep the unreadable file for a human to read.
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            os.replace(self.path, aside)
            logger.warning(
                "The state file %s could not be read (%s); it was moved to %s. Records it "
                "listed may still exist: check them with 'variomedia-dns records list'.",
                self.path,
                why,
                aside,
            )
            return _Contents([], [])
        return _Contents(records, self._orders(data))

    def _orders(self, data: dict[str, Any]) -> list[HookOrder]:
        """The hooks' noted orders; what does not have their shape is dropped, with a warning
        (nothing was written for them yet: the CA then refuses those challenges, visibly)."""
        raw = data.get("hook_orders", [])
        entries = raw if isinstance(raw, list) else [raw]
        orders = [order for order in map(_order, entries) if order is not None]
        if len(orders) != len(entries):
            logger.warning("Noted challenges of the manual hooks in %s were unreadable", self.path)
        return orders

    def _save(self, contents: _Contents) -> None:
        if not contents.records and not contents.orders:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        data = contents.to_json()
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


class _Mismatch(Exception):
    """The state file is JSON, but not what this project writes (see `_records`)."""


_TEXT = ("account", "zone", "fqdn", "value")
_OPTIONAL_TEXT = ("job_id", "batch", "owner")


def _records(data: Any) -> list[StoredRecord]:
    """The entries of a state file's JSON, each checked field by field (fields a newer version
    adds are ignored)."""
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise _Mismatch("no list of records")
    return [_record(entry, number) for number, entry in enumerate(data["records"], 1)]


def _record(entry: Any, number: int) -> StoredRecord:
    def wrong(field: str, what: str) -> _Mismatch:
        return _Mismatch(f"entry {number}: {field} {what}")

    if not isinstance(entry, dict):
        raise _Mismatch(f"entry {number} is not an object")
    record_id = entry.get("record_id")
    if not (is_record_id(record_id) or _is_unanswered(record_id)):
        raise wrong("record_id", "is not a record id")
    for field in _TEXT:
        if not isinstance(entry.get(field), str) or not entry[field]:
            raise wrong(field, "is missing or not text")
    for field in _OPTIONAL_TEXT:
        if not isinstance(entry.get(field), str | None):
            raise wrong(field, "is not text")
    created = entry.get("created", 0.0)
    if isinstance(created, bool) or not isinstance(created, int | float):
        raise wrong("created", "is not a time")
    try:
        created = float(created)
    except OverflowError:
        raise wrong("created", "is not a time") from None
    if not math.isfinite(created):
        raise wrong("created", "is not a time")
    if not isinstance(entry.get("deleting", False), bool):
        raise wrong("deleting", "is not true or false")
    fields = {f.name for f in dataclasses.fields(StoredRecord)}
    return StoredRecord(**{**{k: v for k, v in entry.items() if k in fields}, "created": created})


def _order(entry: Any) -> HookOrder | None:
    """One noted order, if it has the shape `HookOrder.to_json` writes."""
    if not isinstance(entry, dict):
        return None
    owner, remaining, challenges = (
        entry.get("owner"),
        entry.get("remaining"),
        entry.get("challenges"),
    )
    if not isinstance(owner, str) or isinstance(remaining, bool) or not isinstance(remaining, int):
        return None
    if not isinstance(challenges, list) or not all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c)
        for c in challenges
    ):
        return None
    return HookOrder(owner, remaining, [(domain, value) for domain, value in challenges])


def _is_unanswered(value: object) -> bool:
    return isinstance(value, str) and _UNANSWERED_ID.fullmatch(value) is not None
