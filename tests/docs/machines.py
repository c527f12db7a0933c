"""The places the README's commands run in: machines with their own root, one account, one CA.

A reader follows the README on a real server, as root. The test follows it on loopback:

* **One Variomedia account**: the simulator, hosting every domain the README names, with two
  name servers that publish late (as Variomedia's do); **one CA**: Pebble, validating against
  the slowest of them.
* **Machines**: each install path of the README (pip, a distribution's certbot, snap, Docker)
  is a machine of its own, because a reader follows one of them. A machine is a directory that
  stands for ``/``: every absolute path in a command is read below it (``/etc/letsencrypt`` →
  ``<root>/etc/letsencrypt``), and so are the defaults that would point outside it (certbot's
  directories, the state file, the account keys, ``HOME``). Its ``PATH`` starts with its own
  ``/usr/local/bin`` etc., so ``certbot`` and ``variomedia-dns`` are the ones the README
  installed there — from the wheel built from this checkout.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from certbot_dns_variomedia.testing.acme.acme2certifier import Acme2Certifier
from certbot_dns_variomedia.testing.acme.pebble import Pebble
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

from .dist import Dist

COMMAND_TIMEOUT = 180.0
# The directories of a fresh Debian-like system that README commands write into.
SKELETON = (
    "bin",
    "sbin",
    "etc/cron.d",
    "etc/systemd/system",
    "opt",
    "root",
    "run",
    "tmp",
    "usr/bin",
    "usr/sbin",
    "usr/lib",
    "usr/local/bin",
    "usr/local/sbin",
    "usr/local/lib",
    "var/lib",
    "var/log",
)
# The machine's own bin directories, searched before the host's (the host provides coreutils,
# sh, awk, ... as any system would).
BIN_DIRS = (
    "usr/local/sbin",
    "usr/local/bin",
    "usr/sbin",
    "usr/bin",
    "sbin",
    "bin",
    "snap/bin",
)
# Every domain the README uses, in one account; example.com also plays "a provider without an
# API" (its CNAME comes from the README's zone-file line).
README_SIM = SimConfig(
    domains=(SimDomain("example.de"), SimDomain("example.org"), SimDomain("example.com")),
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.3),
    ),
    job_delay=0.2,
)


# An absolute path into the system's directories, inside a file (not a URL, not mapped yet).
_SYSTEM_PATH = re.compile(r"(?<![\w./:~-])/(?:etc|opt|root|run|snap|srv|usr|var)(?=/)")


def host_path() -> str:
    """The host's PATH without this test's virtualenv: README commands must not find the
    checkout's editable install by accident."""
    own = {str(Path(sys.executable).parent), str(Path(sys.prefix) / "bin")}
    if venv := os.environ.get("VIRTUAL_ENV"):
        own.add(str(Path(venv) / "bin"))
    entries = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    return os.pathsep.join(e for e in entries if e and e not in own)


@dataclass
class Machine:
    """A directory standing for ``/`` of one server, and how commands run there."""

    name: str
    root: Path
    world: World
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for directory in SKELETON:
            (self.root / directory).mkdir(parents=True, exist_ok=True)

    def host(self, path: str) -> Path:
        """Where an absolute path of the README lives on this machine."""
        assert path.startswith("/"), path
        return self.root / path.lstrip("/")

    def map_arg(self, arg: str) -> str:
        """An argument as it must be given here: absolute paths below the root, nested commands
        (certbot's hook options) mapped word by word."""
        if any(c.isspace() for c in arg):
            return shlex.join(self.map_hook(shlex.split(arg)))
        if arg.startswith("/") and not arg.startswith("/dev/"):
            return str(self.host(arg)) + ("/" if arg.endswith("/") else "")
        key, sep, value = arg.partition("=")
        if sep and key.startswith("-") and value.startswith("/"):
            return f"{key}={self.host(value)}"
        return arg

    def map_hook(self, argv: Sequence[str]) -> list[str]:
        """A hook command for certbot: paths mapped; the ``variomedia-dns`` hooks additionally
        get ``--nameservers`` (the zones' NS records cannot be looked up on loopback)."""
        mapped = [self.map_arg(a) for a in argv]
        program, subcommand = (Path(argv[0]).name, argv[1]) if len(argv) > 1 else ("", "")
        if program == "variomedia-dns" and subcommand in ("certbot-auth", "certbot-cleanup"):
            mapped += ["--nameservers", self.world.nameservers]
        return mapped

    def map_file(self, path: Path) -> None:
        """A file installed onto this machine names system paths (ExecStart=, PATH=, the
        credentials in cli.ini): read them below the root too."""
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return
        path.write_text(_SYSTEM_PATH.sub(lambda m: str(self.root) + m.group(0), text))

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """root's environment on this machine (only loopback servers exist)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CERTBOT_", "VARIOMEDIA_", "CP_", "PIP_"))
            and k not in ("VIRTUAL_ENV", "PYTHONPATH", "REQUESTS_CA_BUNDLE")
        }
        own = os.pathsep.join(str(self.root / d) for d in BIN_DIRS)
        env.update(
            PATH=f"{own}{os.pathsep}{host_path()}",
            HOME=str(self.host("/root")),
            XDG_CONFIG_HOME=str(self.host("/root/.config")),
            XDG_STATE_HOME=str(self.host("/root/.local/state")),
            # One cache for all machines: the pacing ledger must see every request to the one
            # simulated API (on the Internet, the limit is per address; here all share 127.0.0.1).
            XDG_CACHE_HOME=str(self.world.cache),
            VARIOMEDIA_DNS_CACHE_DIR=str(self.world.cache / "certbot-dns-variomedia"),
            # root's defaults, below this machine's root:
            VARIOMEDIA_DNS_STATE_FILE=str(self.host("/var/lib/variomedia-dns/state.json")),
            VARIOMEDIA_DNS_ACCOUNT_DIR=str(self.host("/etc/variomedia-dns/accounts")),
            REQUESTS_CA_BUNDLE=str(self.world.pebble.ca_bundle),
            TMPDIR=str(self.host("/tmp")),
        )
        env.update(extra or {})
        return env

    def which(self, program: str) -> Path:
        """`program` as this machine's PATH finds it; it must be one the README installed."""
        found = shutil.which(program, path=self.env()["PATH"])
        assert found is not None, f"{program} is not installed on the {self.name} machine"
        assert Path(found).is_relative_to(self.root), (
            f"{program} on the {self.name} machine is {found}, not one the README installed"
        )
        return Path(found)

    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in argv],
            env=self.env(env),
            cwd=cwd or self.world.repo,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )


@dataclass
class World:
    """The account, the CA, the machines, and what the README's commands left for later ones."""

    base: Path
    repo: Path
    dist: Dist
    layer: Path
    sim: VariomediaSimulator
    pebble: Pebble
    # The dns-persist-01 CA (it asks the simulator's name servers on port 53); None where port
    # 53 cannot be bound, with the reason.
    persist_ca: Acme2Certifier | None = None
    persist_unavailable: str = ""
    persist_account: str = ""  # the account URL `persist show` printed
    machines: dict[str, Machine] = field(default_factory=dict)
    images: dict[str, Path] = field(default_factory=dict)  # docker image name -> its venv
    added_records: list[str] = field(default_factory=list)  # ids from `records add`, in order
    demo_command: list[str] = field(default_factory=list)  # what the sandbox demo said it ran

    @property
    def cache(self) -> Path:
        return self.base / "cache"

    @property
    def nameservers(self) -> str:
        return ",".join(self.sim.nameservers)

    def machine(self, name: str) -> Machine:
        if name not in self.machines:
            self.machines[name] = Machine(name, self.base / "machines" / name, self)
        return self.machines[name]
