"""``variomedia-sandbox --serve``: the sandbox kept running, and commands to paste elsewhere.

A new user should not have to find out by failing which options the sandbox needs (the name
servers, Pebble's ``--server``, the CA that certbot must trust). So every line printed here
runs as printed, in another terminal of the same machine; the tests paste them. Everything
those commands write stays inside the sandbox's folder.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from ..servers.service import stop_signals
from .sandbox import Sandbox, environment_program

READY = "Ctrl-C here"  # starts the last line: everything above it is printed and true


def shown(program: str | Path) -> str:
    """The bare name when the shell's PATH finds this very program, else its full path."""
    path = Path(program)
    found = shutil.which(path.name)
    if found is not None and Path(found).resolve() == path.resolve():
        return path.name
    return str(path)


def variomedia_dns() -> str:
    """The variomedia-dns of this environment, as a person would type it."""
    found = environment_program("variomedia-dns")
    return shown(found) if found else "variomedia-dns"


def _line(argv: list[str]) -> str:
    return "  " + shlex.join(argv)


def _certbot(box: Sandbox, *args: str) -> str:
    argv = box.certbot_command(*args)
    return _line([shown(argv[0]), *argv[1:]])


def instructions(box: Sandbox, *, kept: bool) -> str:
    """What to paste, for a started `box`, and how to stop it."""
    assert box.pebble is not None
    domains = [d.name for d in box.config.domains]
    first, second = domains[0], domains[-1]
    vdns = variomedia_dns()
    credentials = ["--credentials", str(box.credentials)]
    servers = ["--nameservers", box.nameservers_option]
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in box.client_env().items())

    def hook(name: str) -> str:
        return shlex.join([vdns, name, *credentials, *servers])

    folder = "kept when it stops" if kept else "removed when it stops, unless --keep"
    return "\n".join(
        [
            "The sandbox is running: Pebble (ACME) and the Variomedia simulator (API and "
            f"{len(box.sim.nameservers)} name servers), all on 127.0.0.1.",
            f"Its folder: {box.root} ({folder})",
            f"Credentials for the simulator (mode 0600): {box.credentials}",
            f"Account domains: {', '.join(domains)}",
            "",
            "In another terminal, first (Pebble's CA for certbot; the commands' cache, state "
            "and ACME account in the sandbox):",
            f"  export {exports}",
            "certbot with the plugin:",
            _certbot(box, "certonly", *box.plugin_args(), "-d", first, "-d", f"*.{first}"),
            "certbot with the manual hooks:",
            _certbot(
                box,
                "certonly",
                "--manual",
                "--preferred-challenges",
                "dns",
                "--manual-auth-hook",
                hook("certbot-auth"),
                "--manual-cleanup-hook",
                hook("certbot-cleanup"),
                "-d",
                f"www.{second}",
            ),
            "variomedia-dns:",
            _line([vdns, "doctor", first, *credentials, *servers]),
            _line([vdns, "records", "add", f"hello.{first}", "TXT", "hello", *credentials]),
            _line([vdns, "check", f"hello.{first}", "hello", "--wait", "30", *servers]),
            _line([vdns, "records", "list", first, *credentials]),
            _line(
                [
                    vdns,
                    "issue",
                    "-d",
                    second,
                    "-d",
                    f"*.{second}",
                    "--out",
                    str(box.root / "issued"),
                    "--agree-tos",
                    "--server",
                    box.pebble.directory_url,
                    *credentials,
                    *servers,
                ]
            ),
            "",
            f"{READY}, or kill {os.getpid()}, stops Pebble and the simulator.",
        ]
    )


def serve(box: Sandbox, *, kept: bool) -> int:
    """Start `box`, print `instructions`, and stop it on Ctrl-C, kill or a closed terminal."""
    with stop_signals() as stop, box:
        if not stop.is_set():
            print(instructions(box, kept=kept), flush=True)
            stop.wait()
    print("Stopped Pebble and the simulator.", flush=True)
    return 0
