"""A command that serves until Ctrl-C, used as a person would: started, its lines read (and
the indented ones pasted), stopped. ``variomedia-sandbox --serve`` and the simulator's command
line; shared by their tests and the README test, so all read the output the same way.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from certbot_dns_variomedia.testing.demo.serve import READY as SANDBOX_READY
from docs import dist

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def child_pids(pid: int) -> set[int]:
    """The processes `pid` started that are still its children (Linux /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Served:
    """A running command and the lines it printed, up to the one that says it is ready."""

    process: subprocess.Popen[str]
    ready: str
    base_env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    children: set[int] = field(default_factory=set)
    _reader: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        argv: list[str],
        *,
        ready: str,
        env: dict[str, str] | None = None,
        tmp: Path | None = None,
        cwd: Path | None = None,
    ) -> Served:
        """`argv`, until it prints a line starting with `ready`. `env` is the environment of
        both terminals (default: this process's); `tmp` the command's TMPDIR."""
        base_env = dict(os.environ if env is None else env)
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**base_env, **({"TMPDIR": str(tmp)} if tmp else {})},
            cwd=cwd,
        )
        served = cls(process, ready, base_env)
        event = threading.Event()
        served._reader = threading.Thread(target=served._read, args=(event,), daemon=True)
        served._reader.start()
        event.wait(START_TIMEOUT)
        if not any(line.startswith(ready) for line in served.lines):
            served.stop()
            raise AssertionError(f"no {ready!r} line within {START_TIMEOUT:g} s:\n{served.output}")
        served.children = child_pids(process.pid)
        return served

    def _read(self, event: threading.Event) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(self.ready):
                event.set()
        event.set()  # it ended before it was ready: start() shows what it printed

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def value(self, label: str) -> str:
        """The text after ``label: `` on the line that starts with `label`."""
        found = [line[len(label) + 2 :] for line in self.lines if line.startswith(label + ": ")]
        assert len(found) == 1, (label, self.output)
        return found[0]

    def pasted(self) -> list[list[str]]:
        """Every line printed to paste (indented), as the shell would split it."""
        return [shlex.split(line) for line in self.lines if line.startswith("  ")]

    def env(self) -> dict[str, str]:
        """The other terminal's environment once the ``export`` line (if any) has run."""
        exports = [argv for argv in self.pasted() if argv[0] == "export"]
        assigned = dict(word.split("=", 1) for argv in exports for word in argv[1:])
        return {**self.base_env, **assigned}

    def commands(self) -> list[list[str]]:
        """The commands to paste, in the order printed (the export line left out)."""
        return [argv for argv in self.pasted() if argv[0] != "export"]

    def command(self, program: str, *words: str) -> list[str]:
        """The one printed command of `program` (by name) whose arguments start with `words`."""
        found = [
            argv
            for argv in self.commands()
            if Path(argv[0]).name == program and tuple(argv[1 : 1 + len(words)]) == words
        ]
        assert len(found) == 1, (program, words, self.output)
        return found[0]

    def run(
        self, argv: list[str], *, timeout: float = 180.0, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`argv` as pasted into the other terminal."""
        return dist.run(argv, timeout=timeout, cwd=cwd, env=self.env())

    def stop(self, signum: int = signal.SIGINT) -> int:
        """Ctrl-C (or another signal); its exit status. Killed if it does not end in time."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)  # the last lines, up to the end of the output
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def serve_sandbox(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    """``variomedia-sandbox --serve`` (this environment's console script), its temporary
    folder below `tmp`."""
    tmp.mkdir(parents=True, exist_ok=True)
    program = Path(sys.executable).parent / "variomedia-sandbox"
    return Served.start([str(program), "--serve", *args], ready=SANDBOX_READY, env=env, tmp=tmp)
