"""Another process that holds a file's ``flock``: the hung run every bounded lock wait is for."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

_HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


@contextlib.contextmanager
def holding_lock(path: str | os.PathLike[str]) -> Iterator[int]:
    """A process that holds an exclusive lock on `path` until the block ends (its pid)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, os.fspath(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        if holder.stdout.readline() != "held\n":
            raise RuntimeError(f"the lock holder for {path} did not start")
        yield holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
