"""How each command of the README is run on loopback, and what it must have done.

Every command in an ``sh`` block of README.md must match exactly one rule here, or the test
fails: a command added to the README without a way to run it cannot slip through. A rule is

* ``run``: the command runs as written, with the substitutions below;
* ``stand-in``: the command needs something these machines do not have (Debian's archive,
  snapd, a Docker engine); the rule builds what the command would leave behind, as far as it
  can from this checkout, and states why;
* ``checked``: the command cannot run inside a test at all (it runs the test suite itself, or
  only restarts a service manager); the rule checks what it can and states why.

Substitutions, the same for every command:

* absolute paths are read below the machine's root (see `machines`); the domains stay as
  written (the simulator hosts them);
* ``certbot`` gets ``--server`` (Pebble), its three directories below the machine's root,
  ``--non-interactive --agree-tos --register-unsafely-without-email`` (no one answers its
  questions), ``--no-random-sleep-on-renew`` for ``renew`` (it would sleep up to 8 minutes
  without a terminal), and ``--config <root>/etc/letsencrypt/cli.ini`` once that file exists
  (certbot reads ``/etc/letsencrypt/cli.ini`` by default);
* the plugin and the ``variomedia-dns`` commands that look up name servers get
  ``--dns-variomedia-nameservers`` / ``--nameservers`` with the simulator's servers (the zones'
  NS records cannot be looked up on loopback); ``variomedia-dns issue --staging`` asks Pebble;
* the dns-persist-01 commands (``persist ...``, ``issue --challenge dns-persist-01``) ask
  acme2certifier for ``--staging`` (Pebble does not offer the challenge); it validates against
  the simulator's name servers on port 53, which only root may bind: elsewhere they are
  skipped with that reason;
* ``pip install certbot certbot-dns-variomedia`` installs the wheel built from this checkout
  (``--no-index --no-deps``), with certbot and the other dependencies taken from the project
  virtualenv (see `dist`); ``python3 -m venv`` makes the venv with the test's Python;
* ``cp-audit`` and its check talk to the loopback servers of
  ``certbot_dns_variomedia.testing.demo.cp_audit_demo --serve`` (domain, credentials, ports);
* ``ID`` in ``records delete ID`` is the id of the record the README's ``records add`` made.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from testing.served import serve_sandbox

from certbot_dns_variomedia import __version__
from certbot_dns_variomedia.cli.records import RECORD_TYPES
from certbot_dns_variomedia.controlpanel.credentials import load_controlpanel_credentials
from certbot_dns_variomedia.testing.demo.sandbox import certificate_names

from . import dist
from .machines import Machine, World, host_path
from .markdown import Command

Kind = Literal["run", "stand-in", "checked"]
Handler = Callable[["Runner", Machine, Command], str]

PLACEHOLDERS = {"ID"}
WHEEL_PACKAGES = {"certbot", "certbot-dns-variomedia"}
PIP_FLAGS = {"--break-system-packages", "--upgrade", "--no-cache-dir"}
# Sections whose commands run on a machine of their own (one install path each); the rest run
# on "main" (certbot installed with pip, as recommended), or in this checkout.
MACHINE_OF_SECTION = {
    "Debian or Ubuntu certbot package": "debian",
    "certbot from snap": "snap",
    "certbot from snap: the manual hooks": "snap",
    "Docker": "docker",
    "In the Docker image": "docker",
    "Try it (two commands, fresh Debian/Ubuntu machine)": "checkout",
    "Development and the local sandbox": "checkout",
}
# The Credentials step, done once on "main", holds for every machine.
SHARED_FILES = ("/etc/letsencrypt/variomedia.ini",)
FAKE_SERVICES = ("nginx", "postfix", "systemctl")


@dataclass(frozen=True)
class Rule:
    name: str
    matches: Callable[[Sequence[str]], bool]
    handler: Handler
    kind: Kind = "run"
    why: str = ""


@dataclass
class Outcome:
    command: Command
    machine: str
    rule: Rule
    note: str


@dataclass
class Runner:
    """Runs README commands in order, on the machine their section belongs to."""

    world: World
    outcomes: list[Outcome] = field(default_factory=list)
    _demo: CpAuditDemo | None = None

    def machine_for(self, command: Command) -> Machine:
        name = MACHINE_OF_SECTION.get(command.block.section, "main")
        machine = self.world.machine(name)
        if name == "main" and not (machine.root / "usr/sbin/nginx").exists():
            install_fake_services(machine)
        main = self.world.machine("main")
        for shared in SHARED_FILES:
            source, target = main.host(shared), machine.host(shared)
            if source.exists() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        return machine

    def execute(self, command: Command) -> Outcome:
        found = [rule for rule in RULES if rule.matches(command.argv)]
        assert len(found) == 1, (
            f"{command}: {'no' if not found else len(found)} rules match; every README "
            "command needs exactly one rule in tests/docs/readme_rules.py"
        )
        unknown = [
            a
            for a in command.argv
            if a.isupper() and a.isalpha() and len(a) > 1 and a not in RECORD_TYPES
        ]
        assert set(unknown) <= PLACEHOLDERS, f"{command}: unknown placeholder(s) {unknown}"
        machine = self.machine_for(command)
        note = found[0].handler(self, machine, command)
        outcome = Outcome(command, machine.name, found[0], note)
        self.outcomes.append(outcome)
        return outcome

    def demo(self) -> CpAuditDemo:
        if self._demo is None:
            self._demo = CpAuditDemo.start(self.world.base / "cp-audit-demo")
        return self._demo

    def close(self) -> None:
        if self._demo is not None:
            self._demo.stop()
            self._demo = None


def check(result: subprocess.CompletedProcess[str], command: Command) -> str:
    """The output, after asserting the exit status the README promises."""
    output = result.stdout + result.stderr
    assert result.returncode == command.expect, (
        f"{command}\nexit status {result.returncode}, expected {command.expect}\n{output}"
    )
    return output


def install_fake_services(machine: Machine) -> None:
    """nginx, postfix and systemctl as they appear to a deploy hook: they log their arguments.
    (systemctl claims every unit is active, in case the host runs systemd.)"""
    log = machine.host("/var/log/fake-services.log")
    for name in FAKE_SERVICES:
        path = machine.root / "usr/sbin" / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> {shlex.quote(str(log))}\nexit 0\n')
        path.chmod(0o755)


def service_log(machine: Machine) -> str:
    log = machine.host("/var/log/fake-services.log")
    return log.read_text() if log.exists() else ""


def live_challenge_txt(world: World) -> list[str]:
    return [
        f"{r.fqdn} {r.data}"
        for r in world.sim.records()
        if r.record_type == "TXT" and r.name.startswith("_acme-challenge") and not r.deleted
    ]


# -- certbot ----------------------------------------------------------------------------------


def _option(argv: Sequence[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _domains(argv: Sequence[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a in ("-d", "--domains", "--domain")]


def _uses_plugin(machine: Machine, args: Sequence[str]) -> bool:
    authenticator = _option(args, "--authenticator", "-a")
    if authenticator is not None:
        return authenticator == "dns-variomedia"
    if "--manual" in args or "--dns-variomedia" in args:
        return "--dns-variomedia" in args
    cli_ini = machine.host("/etc/letsencrypt/cli.ini")
    return (
        cli_ini.exists()
        and re.search(r"^authenticator\s*=\s*dns-variomedia\s*$", cli_ini.read_text(), re.MULTILINE)
        is not None
    )


def certbot(runner: Runner, machine: Machine, command: Command, exe: Path, args: list[str]) -> str:
    """certbot with the loopback substitutions, and what its subcommand must have achieved."""
    world = machine.world
    sub = args[0]
    argv: list[str] = [str(exe), *(machine.map_arg(a) for a in args)]
    if sub in ("certonly", "renew", "run"):
        argv.append("--non-interactive")
        if "--agree-tos" not in args:
            argv.append("--agree-tos")
        if _option(args, "--email", "-m") is None:
            argv.append("--register-unsafely-without-email")
    if sub == "renew":
        argv.append("--no-random-sleep-on-renew")
    if sub == "certonly" and _uses_plugin(machine, args):
        argv += ["--dns-variomedia-nameservers", world.nameservers]
    argv += [
        "--server",
        world.pebble.directory_url,
        "--config-dir",
        str(machine.host("/etc/letsencrypt")),
        "--work-dir",
        str(machine.host("/var/lib/letsencrypt")),
        "--logs-dir",
        str(machine.host("/var/log/letsencrypt")),
    ]
    if (cli_ini := machine.host("/etc/letsencrypt/cli.ini")).exists():
        argv += ["--config", str(cli_ini)]
    before = {r.id for r in world.sim.records()}
    logged = service_log(machine)
    output = check(machine.run(argv), command)
    assert world.sim.token not in output
    assert live_challenge_txt(world) == [], f"{command}: challenge records left behind"
    if sub == "plugins":
        assert "* dns-variomedia" in output, output
        return "lists dns-variomedia"
    if sub == "certonly":
        assert "Successfully received certificate" in output, output
        saved = re.search(r"Certificate is saved at:\s*(\S+)", output)
        assert saved, output
        names = certificate_names(Path(saved.group(1)).parent / "cert.pem")
        assert names == _domains(args), (names, _domains(args))
        if (ttl := _option(args, "--dns-variomedia-ttl")) is not None:
            new = [r for r in world.sim.records() if r.id not in before and r.record_type == "TXT"]
            assert new, "no TXT record was written"
            assert all(r.ttl == int(ttl) for r in new), [(r.fqdn, r.ttl) for r in new]
        return f"issued {', '.join(names)}"
    if sub == "renew":
        if "--dry-run" in args:
            assert "simulated renewals succeeded" in output, output
        if "--run-deploy-hooks" in args:
            hooked = service_log(machine)[len(logged) :]
            assert "reload nginx" in hooked or "nginx -s reload" in hooked, hooked + output
            assert "reload postfix" in hooked or "postfix reload" in hooked, hooked + output
            return "dry run; the deploy hook reloaded nginx and postfix"
        return "renewal ran"
    raise AssertionError(f"{command}: no checks for certbot {sub}")


def run_certbot(runner: Runner, machine: Machine, command: Command) -> str:
    return certbot(runner, machine, command, machine.which("certbot"), list(command.argv[1:]))


# -- installing: venvs, pip, the stand-ins for apt, snap and docker -----------------------------


def install_wheel(runner: Runner, venv: Path, args: Sequence[str], command: Command) -> str:
    """``pip install [flags] certbot certbot-dns-variomedia`` into `venv`, from the wheel."""
    world = runner.world
    assert tuple(args[:1]) == ("install",), command
    flags = [a for a in args[1:] if a.startswith("-")]
    packages = [a for a in args[1:] if not a.startswith("-")]
    assert set(flags) <= PIP_FLAGS, f"{command}: the test knows no pip flags {flags}"
    assert "certbot-dns-variomedia" in packages, command
    assert set(packages) <= WHEEL_PACKAGES, f"{command}: the test installs only {WHEEL_PACKAGES}"
    result = dist.pip_install(venv, *flags, str(world.dist.wheel))
    check(result, command)
    dist.add_dependencies(venv, world.layer)
    if "certbot" in packages:
        dist.write_console_script(venv, "certbot", "certbot.main")
    where = dist.imported_from(venv)
    assert where.is_relative_to(venv), where
    return f"wheel installed into {venv.name}; certbot and dependencies from the project venv"


def run_venv(runner: Runner, machine: Machine, command: Command) -> str:
    target = machine.map_arg(command.argv[-1])
    dist.create_venv(Path(target))
    return "made with the test's Python, without pip (the test's pip installs into it)"


def run_venv_pip(runner: Runner, machine: Machine, command: Command) -> str:
    venv = Path(machine.map_arg(command.argv[0])).parents[1]
    return install_wheel(runner, venv, command.argv[1:], command)


def run_system_pip(runner: Runner, machine: Machine, command: Command) -> str:
    system = machine.root / "usr"
    assert (system / "pyvenv.cfg").exists(), f"{command}: the system Python is not installed"
    return install_wheel(runner, system, command.argv[1:], command)


def stand_in_apt(runner: Runner, machine: Machine, command: Command) -> str:
    """The distribution's Python with python3-certbot: a venv at <root>/usr whose certbot is
    /usr/bin/certbot, with certbot from the project venv."""
    packages = [a for a in command.argv[2:] if not a.startswith("-")]
    assert command.argv[1] == "install", command
    assert "certbot" in packages, command
    system = machine.root / "usr"
    dist.create_venv(system)
    dist.add_dependencies(system, runner.world.layer)
    dist.write_console_script(system, "certbot", "certbot.main")
    return "a venv at /usr with certbot stands in for Debian's python3 and python3-certbot"


def stand_in_snap(runner: Runner, machine: Machine, command: Command) -> str:
    """The snap's certbot: the certbot of the test environment (it runs the manual hooks)."""
    assert command.argv[1:] == ("install", "--classic", "certbot"), command
    launcher = machine.root / "snap/bin/certbot"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    real = Path(sys.executable).parent / "certbot"
    launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(str(real))} "$@"\n')
    launcher.chmod(0o755)
    return "/snap/bin/certbot runs the test environment's certbot"


DOCKER_RUN = re.compile(r"^RUN\s+pip install(?P<flags>(\s+--[\w-]+)*)\s+certbot-dns-variomedia$")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        instructions.append((word.upper(), rest.strip()))
        pending = ""
    return instructions


def build_image(dockerfile: Path, image: Path, wheel: Path, layer: Path) -> str:
    """Read a Dockerfile as Docker would, and build the image's Python as a venv at `image`:
    certbot (what the base image has) plus what its RUN lines install, i.e. the wheel.
    Returns the base image reference."""
    variables: dict[str, str] = {}
    base: str | None = None
    for word, rest in dockerfile_instructions(dockerfile):
        if word == "ARG":
            name, _, default = rest.partition("=")
            variables[name] = default
        elif word == "FROM":
            base = re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], rest)
            assert re.fullmatch(r"certbot/certbot:[\w.-]+", base), base
            dist.create_venv(image)
            dist.add_dependencies(image, layer)
            dist.write_console_script(image, "certbot", "certbot.main")
        elif word == "RUN":
            assert base is not None, "RUN before FROM"
            match = DOCKER_RUN.match(f"RUN {rest}")
            assert match, f"the test cannot play this RUN line: {rest}"
            result = dist.pip_install(image, *match["flags"].split(), str(wheel))
            assert result.returncode == 0, result.stdout + result.stderr
        else:
            raise AssertionError(f"the test knows no {word} instruction (Dockerfile: {rest})")
    assert base is not None, "no FROM"
    assert dist.imported_from(image).is_relative_to(image)
    return base


def stand_in_docker_build(runner: Runner, machine: Machine, command: Command) -> str:
    """The image as a venv (see `build_image`), under the tag that ``docker run`` uses."""
    tag = _option(command.argv, "-t", "--tag")
    assert tag is not None, command
    world = runner.world
    image = world.base / "images" / tag
    dockerfile = world.repo / command.argv[-1] / "Dockerfile"
    base = build_image(dockerfile, image, world.dist.wheel, world.layer)
    world.images[tag] = image
    return f"Dockerfile read; FROM {base} and its RUN line played in a venv ({tag})"


def stand_in_docker_run(runner: Runner, machine: Machine, command: Command) -> str:
    """``docker run`` of the image built above: the volumes must map host paths to the same
    paths, so the image's certbot runs on this machine's files."""
    argv = list(command.argv[2:])
    while argv and argv[0].startswith("-"):
        option = argv.pop(0)
        if option in ("-v", "--volume"):
            host, _, inside = argv.pop(0).partition(":")
            assert host == inside, f"{command}: volume {host}:{inside} is not the same path"
        else:
            assert option in ("--rm", "-it", "-i", "-t"), f"{command}: unknown option {option}"
    image, *args = argv
    assert image in runner.world.images, f"{command}: image {image} was not built"
    return certbot(runner, machine, command, runner.world.images[image] / "bin/certbot", args)


# -- files, services --------------------------------------------------------------------------


def installed_files(argv: Sequence[str]) -> list[Path]:
    """Where ``install [-D] [-m MODE] [-t DIR] SOURCE... [DEST]`` puts its files."""
    sources: list[str] = []
    directory: str | None = None
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-m", "--mode"):
            next(args)
        elif arg in ("-t", "--target-directory"):
            directory = next(args)
        elif not arg.startswith("-"):
            sources.append(arg)
    if directory is not None:
        return [Path(directory) / Path(source).name for source in sources]
    assert len(sources) == 2, argv
    return [Path(sources[1])]


def run_file_command(runner: Runner, machine: Machine, command: Command) -> str:
    """chmod, install, ln, mkdir: run as written on the machine's files. Files installed from
    examples/ get the system paths inside them read below the root as well."""
    argv = [command.argv[0], *(machine.map_arg(a) for a in command.argv[1:])]
    check(machine.run(argv), command)
    if command.argv[0] == "chmod":
        mode = int(command.argv[1], 8)
        target = Path(argv[-1])
        assert target.stat().st_mode & 0o7777 == mode, oct(target.stat().st_mode)
        return f"mode {command.argv[1]}"
    if command.argv[0] == "install":
        files = installed_files(argv)
        for path in files:
            assert path.is_file(), path
            machine.map_file(path)
        return f"installed {', '.join(p.name for p in files)}"
    return "ran"


def _units(machine: Machine) -> list[Path]:
    units = (machine.root / "etc/systemd/system").iterdir()
    return sorted(p for p in units if p.suffix in (".service", ".timer"))


def _exec_start(service: Path) -> list[str]:
    lines = [
        line.partition("=")[2]
        for line in service.read_text().splitlines()
        if line.startswith("ExecStart=")
    ]
    assert len(lines) == 1, service
    return shlex.split(lines[0])


def checked_daemon_reload(runner: Runner, machine: Machine, command: Command) -> str:
    """No service manager runs in a test; what daemon-reload would load is checked with
    systemd-analyze verify (which also wants ExecStart's program to exist)."""
    units = _units(machine)
    assert units, "no units installed before daemon-reload"
    analyze = shutil.which("systemd-analyze", path=host_path())
    if analyze is None:
        return "systemd-analyze is not installed: units not verified"
    result = subprocess.run(
        [analyze, "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr
    return f"systemd-analyze verify: {', '.join(u.name for u in units)}"


def run_systemctl_enable(runner: Runner, machine: Machine, command: Command) -> str:
    """``systemctl enable`` works offline with --root; ``--now`` would start the timer, whose
    service runs its ExecStart: that command runs here on the machine."""
    unit = command.argv[-1]
    systemctl = shutil.which("systemctl", path=host_path())
    assert systemctl is not None, "systemctl is not installed"
    flags = [a for a in command.argv[2:-1]]
    assert flags == ["--now"], command
    enabled = subprocess.run(
        [systemctl, f"--root={machine.root}", "enable", unit],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert enabled.returncode == 0, enabled.stderr
    # The link points into the machine's /etc (absolute, as systemd writes it): not followed.
    units = machine.root / "etc/systemd/system"
    wants = [d / unit for d in units.iterdir() if d.suffix == ".wants" and (d / unit).is_symlink()]
    assert wants, "enable made no symlink"
    service = machine.root / "etc/systemd/system" / unit.replace(".timer", ".service")
    exec_start = _exec_start(service)  # its paths are the machine's already (see map_file)
    assert Path(exec_start[0]).name == "certbot", exec_start
    inner = Command(shlex.join(exec_start), tuple(exec_start), 0, command.line, command.block)
    certbot(runner, machine, inner, Path(exec_start[0]), exec_start[1:])
    return f"enabled ({wants[0].parent.name}); its ExecStart ran: {inner.text}"


# -- variomedia-dns ---------------------------------------------------------------------------

NEEDS_NAMESERVERS = {"check", "doctor", "issue", "certbot-auth", "certbot-cleanup"}
PERSIST_NEEDS_NAMESERVERS = {"set", "check", "remove"}
PERSIST_RECORD = re.compile(
    r'^_validation-persist\.example\.de\. IN TXT "ca\.variomedia\.test; '
    r'accounturi=(?P<account>\S+); policy=wildcard"$',
    re.MULTILINE,
)


def _persist(args: Sequence[str]) -> bool:
    """For the dns-persist-01 CA: ``persist ...`` and ``issue --challenge dns-persist-01``."""
    return args[0] == "persist" or _option(args, "--challenge") == "dns-persist-01"


def persist_ca_arguments(world: World, argv: list[str]) -> list[str]:
    """``--staging`` asks acme2certifier (Pebble does not offer dns-persist-01)."""
    if world.persist_ca is None:
        pytest.skip(f"the dns-persist-01 commands need port 53: {world.persist_unavailable}")
    assert "--staging" in argv, argv
    argv.remove("--staging")
    ca = world.persist_ca
    return [*argv, "--server", ca.directory_url, "--ca-bundle", str(ca.ca_bundle)]


def run_persist(runner: Runner, machine: Machine, command: Command) -> str:
    """A step of the README's dns-persist-01 block, and what it must have done."""
    world = runner.world
    args = command.argv[1:]
    argv = [str(machine.which("variomedia-dns")), *(machine.map_arg(a) for a in args)]
    action = args[1] if args[0] == "persist" else "issue"
    if action in PERSIST_NEEDS_NAMESERVERS or action == "issue":
        argv = [*argv, "--nameservers", world.nameservers]
    before = world.sim.counters.total
    output = check(machine.run(persist_ca_arguments(world, argv)), command)
    requests = world.sim.counters.total - before
    assert world.sim.token not in output
    live = [
        r.data
        for r in world.sim.records()
        if r.fqdn == "_validation-persist.example.de" and not r.deleted
    ]
    if action == "show":
        shown = PERSIST_RECORD.search(output)
        assert shown, output
        world.persist_account = shown["account"]
        return f"printed the record for {shown['account']}"
    mine = f"ca.variomedia.test; accounturi={world.persist_account}; policy=wildcard"
    if action == "set":
        assert live == [mine], live
        return "set; visible on both name servers"
    if action == "check":
        assert re.search(r"^\*\.example\.de\s+ok\s+wildcard", output, re.MULTILINE), output
        return "ok on both name servers"
    if action == "issue":
        out = _option(args, "--out") or ""
        assert certificate_names(Path(machine.map_arg(out)) / "cert.pem") == _domains(args)
        assert requests == 0, f"{requests} API requests with the record standing"
        return f"issued {', '.join(_domains(args))} into {out} with no API request"
    if action == "rotate-key":
        assert output.startswith(f"The account {world.persist_account} now signs"), output
        return "a new key; the same account URL"
    if action == "remove":
        assert live == [], live
        return "this account's record removed"
    raise AssertionError(f"no checks for variomedia-dns persist {action}")


def run_variomedia_dns(runner: Runner, machine: Machine, command: Command) -> str:
    world = runner.world
    exe = machine.which("variomedia-dns")
    args = list(command.argv[1:])
    sub = args[0]
    if "ID" in args:
        assert world.added_records, f"{command}: no record was added before"
        args[args.index("ID")] = world.added_records[-1]
    argv = [str(exe), *(machine.map_arg(a) for a in args)]
    if sub in NEEDS_NAMESERVERS:
        argv += ["--nameservers", world.nameservers]
    if sub == "issue":
        assert "--staging" in argv, command
        argv.remove("--staging")
        argv += ["--server", world.pebble.directory_url, "--ca-bundle", str(world.pebble.ca_bundle)]
    output = check(machine.run(argv), command)
    assert world.sim.token not in output
    if sub == "--version":
        assert output.strip() == f"variomedia-dns {__version__}", output
        return "the wheel's console script"
    if sub == "records" and args[1] == "add":
        name, _, value = args[2:5]
        added = [
            r.id
            for r in world.sim.records()
            if r.fqdn == name and r.data == value and not r.deleted
        ]
        assert len(added) == 1, added
        world.added_records.append(added[0])
        return f"record {added[0]} created"
    if sub == "records" and args[1] == "delete":
        record_id = args[2]
        assert all(r.deleted for r in world.sim.records() if r.id == record_id)
        return f"record {record_id} deleted"
    if sub == "records" and args[1] == "list":
        assert args[2] in output, output
        return "listed"
    if sub == "lock":
        action, domain = args[1], args[2]
        state = {d.ace: d.update_lock for d in world.sim.domains()}[domain]
        if action != "status":
            assert state is (action == "on"), (action, state)
        assert f"update lock of {domain} is" in output or "Switched" in output, output
        return f"lock {action}: now {'on' if state else 'off'}"
    if sub == "check":
        assert "is visible on all 2 name servers" in output, output
        return "visible on both name servers"
    if sub == "doctor":
        assert "FAIL" not in output, output
        return "no check failed"
    if sub == "issue":
        out = Path(machine.map_arg(_option(args, "--out") or ""))
        assert certificate_names(out / "cert.pem") == _domains(args)
        assert (out / "privkey.pem").stat().st_mode & 0o777 == 0o600
        return f"issued into {_option(args, '--out')}"
    raise AssertionError(f"{command}: no checks for variomedia-dns {sub}")


# -- cp-audit -----------------------------------------------------------------------------------


@dataclass
class CpAuditDemo:
    """``cp_audit_demo --serve``: its servers, and the cp-audit arguments that reach them."""

    process: subprocess.Popen[str]
    argv: list[str]

    @classmethod
    def start(cls, workdir: Path, scenario: str = "ok") -> CpAuditDemo:
        workdir.mkdir(parents=True, exist_ok=True)
        module = "certbot_dns_variomedia.testing.demo.cp_audit_demo"
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--serve", "--scenario", scenario],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "TMPDIR": str(workdir)},
        )
        try:
            line = _read_line(process, lambda text: text.startswith("  cp-audit "), timeout=30)
        except BaseException:
            _stop(process)
            raise
        return cls(process, shlex.split(line)[1:])

    def arguments(self, readme_args: Sequence[str]) -> list[str]:
        """The README's cp-audit arguments, pointed at the demo's servers."""
        assert _option(readme_args, "--domain") == "example.de", readme_args
        credentials = _option(readme_args, "--credentials")
        assert credentials is not None, readme_args
        args = list(readme_args)
        args[args.index("--domain") + 1] = _option(self.argv, "--domain") or ""
        args[args.index("--credentials") + 1] = _option(self.argv, "--credentials") or ""
        pairs = zip(self.argv[::2], self.argv[1::2], strict=True)
        loopback = [
            arg
            for name, value in pairs
            if name not in ("--domain", "--credentials")
            for arg in (name, value)
        ]
        return args + loopback

    def stop(self) -> None:
        _stop(self.process)


def _read_line(
    process: subprocess.Popen[str], wanted: Callable[[str], bool], *, timeout: float
) -> str:
    """The first line of the process's output that is `wanted`, within `timeout` seconds."""
    found: list[str] = []
    seen: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout

    def reader() -> None:
        for line in stdout:
            seen.append(line)
            if wanted(line):
                found.append(line.rstrip("\n"))
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    assert found, f"no such line within {timeout} s: {''.join(seen)}"
    return found[0]


def _stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()
    return process.returncode


def run_cp_audit(runner: Runner, machine: Machine, command: Command) -> str:
    readme_credentials = _option(command.argv, "--credentials")
    assert readme_credentials is not None
    # The README's copy of examples/cp-audit/cp.ini is a valid credentials file ...
    load_controlpanel_credentials(machine.host(readme_credentials))
    # ... and the audit runs against the demo's servers with the demo's credentials.
    program = command.argv[0]
    exe = machine.which(program) if "/" not in program else machine.host(program)
    args = runner.demo().arguments(command.argv[1:])
    output = check(machine.run([exe, *args]), command)
    if Path(program).name == "check_cp_audit":
        assert output.startswith("CP-AUDIT OK - "), output
        return "status line OK, exit 0 (demo servers)"
    assert "OK (exit 0)" in output, output
    return "verdict ok (demo servers)"


# -- this checkout: demo, tests, simulators, benchmark ------------------------------------------


def setup_stamp(repo: Path) -> str:
    """The stamp name scripts/setup.sh looks for (what it would install is in place)."""
    inputs = (repo / "setup.cfg").read_bytes() + (repo / "pyproject.toml").read_bytes()
    digest = hashlib.sha256(inputs)
    return f".installed-{digest.hexdigest()[:16]}"


def run_sandbox_demo(runner: Runner, machine: Machine, command: Command) -> str:
    """The script as written; scripts/setup.sh sees a virtualenv that is set up (a stamp
    next to the test's Python), so it installs nothing and the test never downloads."""
    repo = runner.world.repo
    venv = runner.world.base / "setup-venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    python = venv / "bin/python"
    if not python.exists():
        python.symlink_to(sys.executable)
    (venv / setup_stamp(repo)).touch()
    tmp = runner.world.base / "sandbox-demo-tmp"
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VARIOMEDIA_", "CERTBOT_"))}
    env.update(VENV=str(venv), PYTHON=sys.executable, TMPDIR=str(tmp))
    result = subprocess.run(
        [str(repo / command.argv[0])],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = check(result, command)
    assert "== installing" not in output, output
    running = re.search(r"^Running: (certbot .*)$", output, re.MULTILINE)
    assert running, output
    runner.world.demo_command = shlex.split(running.group(1))
    names = re.search(r"^Names:\s+(.*)$", output, re.MULTILINE)
    assert names, output
    assert names.group(1) == "example.test, *.example.test, www.other.test", output
    assert "challenge records left: 0" in output, output
    assert not list(tmp.glob("variomedia-sandbox-*")), "the demo left its folder behind"
    return "issued example.test, *.example.test, www.other.test on its own sandbox, removed it"


def run_sandbox_serve(runner: Runner, machine: Machine, command: Command) -> str:
    """It serves until Ctrl-C: started, its credentials file and its doctor line tried as a
    reader would paste them, then stopped; it must remove its folder. (Every line it prints is
    pasted in tests/testing/demo/test_serve.py.)"""
    tmp = runner.world.base / "sandbox-serve-tmp"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VARIOMEDIA_", "CERTBOT_"))}
    served = serve_sandbox(tmp, *command.argv[2:], env=env)
    try:
        credentials = Path(served.value("Credentials for the simulator (mode 0600)"))
        assert credentials.stat().st_mode & 0o777 == 0o600
        doctor = served.run(served.command("variomedia-dns", "doctor"), timeout=60)
        output = doctor.stdout + doctor.stderr
        assert doctor.returncode == 0, output
        assert "FAIL" not in output, output
    finally:
        status = served.stop(signal.SIGINT)
    assert status == command.expect, served.output
    assert not list(tmp.iterdir()), "--serve left its folder behind"
    return "served; its credentials and doctor line work; Ctrl-C stopped it, folder removed"


def checked_run_tests(runner: Runner, machine: Machine, command: Command) -> str:
    """It runs this test suite, so a test cannot run it; it must be the script CI runs."""
    repo = runner.world.repo
    script = repo / command.argv[0]
    assert os.access(script, os.X_OK)
    bash = shutil.which("bash")
    assert bash is not None
    assert subprocess.run([bash, "-n", str(script)], check=False, timeout=30).returncode == 0
    text = script.read_text()
    for step in ("ruff check", "mypy", "pytest", "compat-tests"):
        assert step in text, step
    assert "./scripts/run-tests" in (repo / ".ci/run").read_text()
    return "bash -n; it runs ruff, mypy, pytest and the compat tests; .ci/run runs it"


def run_python_module(runner: Runner, machine: Machine, command: Command) -> str:
    argv = [sys.executable, *command.argv[1:]]
    result = subprocess.run(
        argv,
        cwd=runner.world.repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = check(result, command)
    label = {0: "OK", 1: "WARNING", 2: "CRITICAL"}[command.expect]
    assert f"Verdict: {label} (exit {command.expect})" in output, output
    return f"exit status {command.expect}"


def run_simulator(runner: Runner, machine: Machine, command: Command) -> str:
    """It serves until Ctrl-C: started, its summary line read, then interrupted."""
    process = subprocess.Popen(
        [sys.executable, *command.argv[1:]],
        cwd=runner.world.repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = _read_line(process, lambda text: text.startswith("{"), timeout=30)
        summary = json.loads(line)
        assert set(summary) == {"url", "token", "nameservers"}, summary
        assert summary["url"].startswith("http://127.0.0.1:"), summary
    finally:
        status = _stop(process, signal.SIGINT)
    assert status == 0, status
    return "served, printed url/token/name servers, stopped on Ctrl-C with exit status 0"


def checked_benchmark(runner: Runner, machine: Machine, command: Command) -> str:
    """A benchmark runs by hand, too slow for every test run; its options must still exist."""
    result = subprocess.run(
        [sys.executable, command.argv[1], "--help"],
        cwd=runner.world.repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for option in (a for a in command.argv[2:] if a.startswith("--")):
        assert option in result.stdout, option
    return "--help lists its options"


# -- the rules ----------------------------------------------------------------------------------


def _is(*words: str) -> Callable[[Sequence[str]], bool]:
    return lambda argv: tuple(argv[: len(words)]) == words


def _program(name: str) -> Callable[[Sequence[str]], bool]:
    return lambda argv: bool(argv) and Path(argv[0]).name == name


RULES: tuple[Rule, ...] = (
    Rule("sandbox demo", _is("./scripts/sandbox-demo"), run_sandbox_demo),
    Rule("sandbox serve", _is("variomedia-sandbox", "--serve"), run_sandbox_serve),
    Rule(
        "the test suite",
        _is("./scripts/run-tests"),
        checked_run_tests,
        "checked",
        "it runs this test suite itself",
    ),
    Rule("virtualenv", _is("python3", "-m", "venv"), run_venv),
    Rule(
        "pip of a virtualenv",
        lambda argv: bool(argv) and argv[0].endswith("/bin/pip"),
        run_venv_pip,
    ),
    Rule("pip of the system Python", _is("pip", "install"), run_system_pip),
    Rule(
        "apt",
        _is("apt", "install"),
        stand_in_apt,
        "stand-in",
        "needs Debian's package archive (the compat tests run Debian's and Ubuntu's certbot)",
    ),
    Rule("snap", _is("snap", "install"), stand_in_snap, "stand-in", "needs snapd"),
    Rule(
        "docker build",
        _is("docker", "build"),
        stand_in_docker_build,
        "stand-in",
        "no Docker engine on the test machines",
    ),
    Rule(
        "docker run",
        _is("docker", "run"),
        stand_in_docker_run,
        "stand-in",
        "no Docker engine; the image's certbot runs with the volumes' paths",
    ),
    Rule("certbot", _program("certbot"), run_certbot),
    Rule(
        "variomedia-dns",
        lambda argv: _program("variomedia-dns")(argv) and not _persist(argv[1:]),
        run_variomedia_dns,
    ),
    Rule(
        "variomedia-dns with dns-persist-01",
        lambda argv: _program("variomedia-dns")(argv) and _persist(argv[1:]),
        run_persist,
    ),
    Rule("cp-audit", _program("cp-audit"), run_cp_audit),
    Rule("check_cp_audit", _program("check_cp_audit"), run_cp_audit),
    Rule(
        "file commands",
        lambda argv: bool(argv) and argv[0] in ("chmod", "install", "ln", "mkdir"),
        run_file_command,
    ),
    Rule(
        "systemctl daemon-reload",
        _is("systemctl", "daemon-reload"),
        checked_daemon_reload,
        "checked",
        "no service manager runs inside a test",
    ),
    Rule("systemctl enable", _is("systemctl", "enable"), run_systemctl_enable),
    Rule(
        "cp-audit demo",
        _is("python", "-m", "certbot_dns_variomedia.testing.demo.cp_audit_demo"),
        run_python_module,
    ),
    Rule(
        "Variomedia simulator",
        _is("python", "-m", "certbot_dns_variomedia.testing.variomedia"),
        run_simulator,
    ),
    Rule(
        "benchmark",
        _is("python", "benchmarks/plugin_timing.py"),
        checked_benchmark,
        "checked",
        "about a minute and a half of certbot runs: run by hand",
    ),
    Rule(
        "dns-persist-01 benchmark",
        _is("python", "benchmarks/persist_timing.py"),
        checked_benchmark,
        "checked",
        "half a minute of renewals at acme2certifier: run by hand",
    ),
)
