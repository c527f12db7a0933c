"""The ``variomedia-dns`` command: the project's core for everyone who cannot load the plugin.

Subcommands (each module registers its own and does its own work; this one only dispatches):

* ``certbot-auth`` / ``certbot-cleanup`` — certbot's manual hooks (`hooks`)
* ``records list|add|delete`` — the account's DNS records (`records`)
* ``lock on|off|status`` — a domain's DNS update lock (`lock`)
* ``check NAME [VALUE]`` — what every authoritative name server answers (`check`)
* ``doctor [DOMAIN]`` — what is wrong and how to fix it (`doctor`)
* ``issue`` — a certificate without certbot (`cli.issue`, `certbot_dns_variomedia.issue`)
* ``persist show|set|check|remove`` — the standing dns-persist-01 record (`persist`)

Exit status: 0 success, 1 failure (one message on stderr saying what and how to fix it),
2 usage error (the command line cannot be carried out; nothing was sent).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TypeVar

from .. import __version__
from ..errors import VariomediaError
from . import hook_notes
from .output import setup_logging
from .usage import UsageError

PROG = "variomedia-dns"
Status = TypeVar("Status")  # what a piece of work returns: an exit status, or None
# The module of each subcommand, in the order --help lists them. Only the module of the command
# that runs is imported: certbot starts the hooks once per challenge, and each call must not pay
# for what other commands need (acme and cryptography for `issue`, ...).
COMMANDS = {
    "certbot-auth": "hooks",
    "certbot-cleanup": "hooks",
    "records": "records",
    "lock": "lock",
    "check": "check",
    "doctor": "doctor",
    "issue": "issue",
    "persist": "persist",
}


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with a known `command`, one that knows that command's module only."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="DNS-01 at Variomedia without the certbot plugin: certbot manual hooks, "
        "record tools, a propagation check, a doctor, and certificates straight from an ACME "
        "CA. Credentials: --credentials FILE (the plugin's INI file) or $VARIOMEDIA_API_TOKEN.",
        epilog="Exit status: 0 success, 1 failure, 2 usage error. "
        f"'{PROG} COMMAND --help' describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from .options import common_options  # noqa: PLC0415 - not for a cleanup call that has nothing to do

    common = common_options()
    wanted = COMMANDS.get(command or "")
    for name in dict.fromkeys(COMMANDS.values()):
        if wanted in (None, name):
            importlib.import_module(f".{name}", __name__).register(subparsers, common)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised where the process is, so that ``finally`` blocks remove what was written."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def _exit_code(error: SystemExit) -> int:
    code = error.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command(argv)
    # certbot's hook calls before an order's last one: served before any parser is built.
    status = _run(command, lambda: hook_notes.before_the_last(command, argv, os.environ))
    if status is not None:
        return status
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error argparse has printed
        return _exit_code(e)
    verbosity = -1 if args.quiet else args.verbose
    setup_logging(verbosity, sys.stdout if getattr(args, "log_to_stdout", False) else sys.stderr)
    with _sigterm_raises():
        return _run(args.command, lambda: args.func(args))


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM as an exception while a command runs (only where nobody else handles it)."""
    install = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    )
    if install:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        if install:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(command: str | None, work: Callable[[], Status]) -> Status | int:
    """`work` (a subcommand), with every error turned into one message and an exit status."""
    try:
        return work()
    except UsageError as e:
        print(f"{PROG} {command}: error: {e}", file=sys.stderr)
        return 2
    except VariomediaError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        print(f"{PROG}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated) as e:
        print(
            f"{PROG}: {'terminated' if isinstance(e, Terminated) else 'interrupted'}",
            file=sys.stderr,
        )
        return 1
