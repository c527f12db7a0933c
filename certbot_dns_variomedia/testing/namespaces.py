"""A process in a PID namespace of its own, as a run in a container is, for tests of state files
shared between a host and its containers."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator

_OWNER_INSIDE = (
    "from certbot_dns_variomedia.core.state import process_owner; "
    "print(process_owner(), flush=True); import time; time.sleep(600)"
)


def can_unshare() -> bool:
    """Whether unshare(1) is here (it also needs the right to make namespaces: root)."""
    return shutil.which("unshare") is not None


@contextlib.contextmanager
def owner_in_new_pid_namespace() -> Iterator[str]:
    """`core.state.process_owner` of a process that runs in a new PID namespace until the block
    ends. Raises `RuntimeError` when no namespace can be made here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("unshare(1) is not installed")
    inside = subprocess.Popen(
        [
            unshare,
            "--pid",
            "--fork",
            "--kill-child",  # the process inside dies with unshare (a kill reaches unshare only)
            "--mount-proc",
            sys.executable,
            "-c",
            _OWNER_INSIDE,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert inside.stdout is not None
        owner = inside.stdout.readline().strip()
        if not owner:
            why = inside.stderr.read() if inside.stderr is not None else ""
            raise RuntimeError(f"no PID namespace could be made: {why.strip()}")
        yield owner
    finally:
        inside.kill()
        inside.wait(timeout=10)
        for stream in (inside.stdout, inside.stderr):
            if stream is not None:
                stream.close()
