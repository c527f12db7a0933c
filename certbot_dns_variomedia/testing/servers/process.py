"""What the test servers that run as child processes (Pebble, acme2certifier) share: stopping
the process within a bound, and the end of its log for error messages."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO

from .service import Service

__all__ = ["ProcessService", "log_tail", "stop_process"]


class ProcessService(Service):
    """A server run as a child process, with its output in a log file: `stop` ends both."""

    stop_timeout: float
    _process: subprocess.Popen[bytes] | None
    _log: IO[bytes] | None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; safe to call repeatedly."""
        process, self._process = self._process, None
        stop_process(process, self.stop_timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        """Whether the process this object started is alive."""
        return self._process is not None and self._process.poll() is None


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; nothing to do for an ended process."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def log_tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a server's log ("" before it has one): a server that did not
    start is only explained by what it wrote."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
