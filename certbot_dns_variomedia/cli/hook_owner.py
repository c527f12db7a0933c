"""Which process the manual hooks' records belong to: the certbot that runs the hooks.

Each hook call is a short-lived process, usually started through ``sh -c``. Records written by
one call must survive until certbot's cleanup call, yet records of a certbot that was killed
must be removed by the next run (`core.run.ChallengeRun.sweep` removes entries whose owner
process is gone). So the owner is the certbot process itself: found by walking up the parent
processes. Other ACME clients that call the hooks the certbot way get the nearest ancestor that
is not a shell or a wrapper such as ``env`` or ``sudo``; never the short-lived shell, whose
death would make the next hook call sweep this run's own records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.state import process_owner

CERTBOT_NAMES = frozenset({"certbot", "letsencrypt", "certbot-auto"})
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"})
# Programs that only pass a command on: the owner is whoever started them.
PASS_THROUGH = frozenset(
    {
        *SHELLS, "busybox", "env", "timeout", "nice", "ionice", "sudo", "doas", "su", "setsid",
        "flock", "stdbuf", "nohup", "chronic",
    }
)  # fmt: skip
_MAX_DEPTH = 64  # a parent chain longer than this is a loop in a broken /proc


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    argv: tuple[str, ...]


def read_process(pid: int, proc: Path = Path("/proc")) -> ProcessInfo | None:
    """The parent and command line of `pid`, or ``None`` if it is gone or unreadable."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        ppid = int(fields[1])
    except (IndexError, ValueError):
        return None
    argv = tuple(a.decode(errors="replace") for a in raw.split(b"\0") if a)
    return ProcessInfo(pid, ppid, argv)


def _program(argv: tuple[str, ...]) -> str:
    """The program a command line runs: the script, when an interpreter or a shell runs one."""
    if not argv:
        return ""
    name = os.path.basename(argv[0])
    python = name.startswith("python")
    if not python and name not in SHELLS:
        return name
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if arg == "-c":  # a command string, not a script: the interpreter is the program
            return name
        if python and arg == "-m" and args:
            return args[0].split(".")[0]
        if python and arg.startswith("-m") and len(arg) > 2:
            return arg[2:].split(".")[0]
        if not arg.startswith("-"):
            return os.path.basename(arg)
    return name


def is_certbot(argv: tuple[str, ...]) -> bool:
    """``certbot …``, ``/usr/bin/python3 /usr/bin/certbot …``, ``python -m certbot …``."""
    return _program(argv) in CERTBOT_NAMES


def ancestors(pid: int, proc: Path = Path("/proc")) -> list[ProcessInfo]:
    """`pid` and its parents, nearest first, up to (not including) pid 1."""
    chain: list[ProcessInfo] = []
    seen: set[int] = set()
    while pid > 1 and pid not in seen and len(chain) < _MAX_DEPTH:
        seen.add(pid)
        info = read_process(pid, proc)
        if info is None:
            break
        chain.append(info)
        pid = info.ppid
    return chain


def owner_pid(parent: int | None = None, proc: Path = Path("/proc")) -> int:
    """The certbot ancestor; else the nearest ancestor that is not a shell; else the parent."""
    parent = os.getppid() if parent is None else parent
    chain = ancestors(parent, proc)
    for info in chain:
        if is_certbot(info.argv):
            return info.pid
    for info in chain:
        if _program(info.argv) not in PASS_THROUGH:
            return info.pid
    return parent


def hook_owner() -> str:
    """The owner string (`core.state.process_owner`) for records written by this hook call."""
    return process_owner(owner_pid())
