"""Every file in examples/ does what its comments say, run against the loopback sandbox.

Configuration files are read by the program they are for (certbot, the credentials loaders,
systemd-analyze); scripts are syntax-checked (``sh -n``, and shellcheck where installed) and
run with the programs they call played by scripts that log their arguments; commands in unit
files and cron lines run against Pebble and the Variomedia simulator. A new file in examples/
without a test here fails `test_every_example_is_tested`.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlpanel.perfdata import split_status_line

from certbot_dns_variomedia.controlpanel.credentials import load_controlpanel_credentials
from certbot_dns_variomedia.credentials import load_variomedia_credentials
from certbot_dns_variomedia.testing.demo.sandbox import DEMO_CONFIG, Sandbox, certificate_names

from . import dist
from .readme_rules import CpAuditDemo, build_image

EXAMPLES = dist.REPO / "examples"
TESTED = {
    "variomedia.ini": "test_credentials_example_loads",
    "cli.ini": "test_cli_ini_makes_the_plugin_the_default",
    "manual-hooks.ini": "test_manual_hooks_ini_issues_through_the_hooks",
    "deploy-hooks/reload-services": "test_deploy_hook_*",
    "systemd/certbot-renew.service": "test_systemd_units_*",
    "systemd/certbot-renew.timer": "test_systemd_units_*",
    "cron.d/certbot-renew": "test_renewal_cron_line_renews",
    "cron.d/cp-audit": "test_cp_audit_cron_line_mails_only_when_not_ok",
    "docker/Dockerfile": "test_dockerfile_adds_the_plugin_to_certbots_image",
    "cp-audit/cp.ini": "test_cp_audit_credentials_example_loads",
    "cp-audit/check_cp_audit": "test_check_cp_audit_*",
}
CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def test_every_example_is_tested() -> None:
    files = {
        str(p.relative_to(EXAMPLES))
        for p in EXAMPLES.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert files == set(TESTED), files ^ set(TESTED)
    names = {name for name in globals() if name.startswith("test_")}
    for pattern in TESTED.values():
        prefix = pattern.rstrip("*")
        assert any(n == pattern or (pattern.endswith("*") and n.startswith(prefix)) for n in names)


def mapped_copy(source: Path, target: Path, replacements: dict[str, str]) -> Path:
    """The example with system paths replaced by the sandbox's (and its mode kept)."""
    text = source.read_text()
    for old, new in replacements.items():
        assert old in text, (source, old)
        text = text.replace(old, new)
    target.write_text(text)
    target.chmod(stat.S_IMODE(source.stat().st_mode))
    return target


def run(
    argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def syntax_checked(script: Path) -> None:
    """``sh -n``, and shellcheck when it is installed (Debian: apt install shellcheck)."""
    sh = shutil.which("sh")
    assert sh is not None
    result = run([sh, "-n", str(script)])
    assert result.returncode == 0, result.stderr
    assert script.read_text().startswith("#!/bin/sh\n")
    assert os.access(script, os.X_OK), f"{script} must be executable"
    shellcheck = shutil.which("shellcheck")
    if shellcheck is not None:
        result = run([shellcheck, "-s", "sh", str(script)])
        assert result.returncode == 0, result.stdout


# -- credentials --------------------------------------------------------------------------------


def test_credentials_example_loads(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    copy = tmp_path / "variomedia.ini"
    shutil.copy(EXAMPLES / "variomedia.ini", copy)
    copy.chmod(0o600)
    credentials = load_variomedia_credentials(copy)
    assert credentials.token == "0123456789abcdef0123456789abcdef"
    assert credentials.api_url == "https://api.variomedia.de"
    assert "Unsafe permissions" not in caplog.text
    assert "chmod 600 /etc/letsencrypt/variomedia.ini" in copy.read_text()


def test_cp_audit_credentials_example_loads(tmp_path: Path) -> None:
    copy = tmp_path / "cp.ini"
    shutil.copy(EXAMPLES / "cp-audit/cp.ini", copy)
    copy.chmod(0o600)
    credentials = load_controlpanel_credentials(copy)
    assert credentials.base_url == "https://cp.provider.example/api/v0/"
    assert credentials.username == "admin@example.de"
    assert credentials.app_version == "1.0.0.0"


# -- certbot configuration files, against the sandbox --------------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "sandbox", DEMO_CONFIG) as box:
        yield box


def certbot_ini(box: Sandbox, example: str, *, hooks: bool = False) -> Path:
    """The example with the sandbox's credentials (and, for the hooks, its name servers, the
    test environment's variomedia-dns, and the state file below the sandbox)."""
    replacements = {"/etc/letsencrypt/variomedia.ini": str(box.credentials)}
    if hooks:
        program = Path(sys.executable).parent / "variomedia-dns"
        replacements["/usr/local/bin/variomedia-dns"] = str(program)
    path = mapped_copy(EXAMPLES / example, box.root / example, replacements)
    if hooks:
        lines = [
            f"{line} --nameservers {box.nameservers_option}" if "-hook =" in line else line
            for line in path.read_text().splitlines()
        ]
        path.write_text("\n".join(lines) + "\n")
    return path


def renewal_conf(box: Sandbox, name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string("[top]\n" + (box.config_dir / "renewal" / f"{name}.conf").read_text())
    return parser


@pytest.mark.e2e
def test_cli_ini_makes_the_plugin_the_default(sandbox: Sandbox) -> None:
    ini = certbot_ini(sandbox, "cli.ini")
    result = sandbox.run_certbot(
        "--config",
        str(ini),
        "certonly",
        "--dns-variomedia-nameservers",
        sandbox.nameservers_option,
        "-d",
        "example.test",
        "-d",
        "*.example.test",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert certificate_names(sandbox.live("example.test") / "cert.pem") == [
        "example.test",
        "*.example.test",
    ]
    conf = renewal_conf(sandbox, "example.test")
    assert conf["renewalparams"]["authenticator"] == "dns-variomedia"
    assert conf["renewalparams"]["dns_variomedia_credentials"] == str(sandbox.credentials)


@pytest.mark.e2e
def test_manual_hooks_ini_issues_through_the_hooks(sandbox: Sandbox, tmp_path: Path) -> None:
    ini = certbot_ini(sandbox, "manual-hooks.ini", hooks=True)
    env = {**sandbox.env(), "VARIOMEDIA_DNS_STATE_FILE": str(tmp_path / "hooks-state.json")}
    result = sandbox.run_certbot(
        "--config", str(ini), "certonly", "-d", "example.test", "-d", "*.example.test", env=env
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "noted; 1 more to come" in output
    params = renewal_conf(sandbox, "example.test")["renewalparams"]
    assert params["authenticator"] == "manual"
    assert params["manual_auth_hook"].split()[1] == "certbot-auth"
    assert params["manual_cleanup_hook"].split()[1] == "certbot-cleanup"
    assert not [
        r
        for r in sandbox.sim.records()
        if r.record_type == "TXT" and not r.deleted and r.name.startswith("_acme")
    ]


# -- the deploy hook ----------------------------------------------------------------------------


def fake_programs(bin_dir: Path, log: Path, behaviour: dict[str, str]) -> None:
    """Programs that log their arguments and do what `behaviour` says (shell code)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in behaviour.items():
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> {shlex.quote(str(log))}\n{body}\n')
        path.chmod(0o755)


def deploy_hook(tmp_path: Path, *, systemd: bool) -> Path:
    """The hook, with systemd's runtime directory replaced by one the test controls."""
    runtime = tmp_path / "run-systemd-system"
    if systemd:
        runtime.mkdir()
    return mapped_copy(
        EXAMPLES / "deploy-hooks/reload-services",
        tmp_path / "reload-services",
        {"/run/systemd/system": str(runtime)},
    )


def run_hook(hook: Path, bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": str(bin_dir),  # only the fakes: nothing of the host's services is touched
        "RENEWED_LINEAGE": "/etc/letsencrypt/live/example.de",
        "RENEWED_DOMAINS": "example.de *.example.de",
        **env,
    }
    return run([str(hook)], env=environment)


def test_deploy_hook_syntax() -> None:
    syntax_checked(EXAMPLES / "deploy-hooks/reload-services")


def test_deploy_hook_reloads_nginx_and_postfix_without_systemd(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    fake_programs(tmp_path / "bin", log, {"nginx": "exit 0", "postfix": "exit 0"})
    result = run_hook(deploy_hook(tmp_path, systemd=False), tmp_path / "bin")
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().splitlines() == [
        "nginx -t -q",
        "nginx -s reload",
        "postfix status",
        "postfix reload",
    ]
    assert "certificate renewed: /etc/letsencrypt/live/example.de" in result.stdout


def test_deploy_hook_uses_systemd_and_skips_what_is_not_running(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    is_active = (
        'case "$*" in "is-active --quiet nginx") exit 0;; "is-active --quiet"*) exit 3;; esac'
    )
    fake_programs(tmp_path / "bin", log, {"systemctl": is_active, "nginx": "exit 0"})
    result = run_hook(deploy_hook(tmp_path, systemd=True), tmp_path / "bin")
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().splitlines() == [
        "systemctl is-active --quiet nginx",
        "systemctl reload nginx",
        "systemctl is-active --quiet postfix",
    ]
    assert "postfix is not running; skipped" in result.stdout


def test_deploy_hook_is_safe_where_nothing_is_installed(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    result = run_hook(deploy_hook(tmp_path, systemd=False), tmp_path / "bin")
    assert result.returncode == 0, result.stderr
    assert "nginx is not installed; skipped" in result.stdout
    assert "postfix is not installed; skipped" in result.stdout


def test_deploy_hook_reports_a_failed_reload(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    broken = 'case "$1" in -t) echo "nginx: configuration file test failed" >&2; exit 1;; esac'
    stopped = 'case "$1" in status) exit 1;; esac'
    fake_programs(tmp_path / "bin", log, {"nginx": broken, "postfix": stopped})
    result = run_hook(deploy_hook(tmp_path, systemd=False), tmp_path / "bin")
    assert result.returncode == 1
    assert "reloading nginx failed" in result.stderr
    assert "nginx -s reload" not in log.read_text()  # a broken configuration is not loaded
    assert "postfix is not running; skipped" in result.stdout


def test_deploy_hook_takes_other_services(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    fake_programs(tmp_path / "bin", log, {"systemctl": "exit 0"})
    result = run_hook(
        deploy_hook(tmp_path, systemd=True), tmp_path / "bin", RELOAD_SERVICES="dovecot"
    )
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "systemctl is-active --quiet dovecot",
        "systemctl reload dovecot",
    ]


# -- renewal: systemd units and the cron line, run against the sandbox --------------------------


def unit_settings(path: Path) -> dict[str, str]:
    return {
        key: value
        for key, _, value in (
            line.partition("=") for line in path.read_text().splitlines() if "=" in line
        )
        if not key.startswith("#")
    }


def test_systemd_units_pass_systemd_analyze(tmp_path: Path) -> None:
    service = unit_settings(EXAMPLES / "systemd/certbot-renew.service")
    timer = unit_settings(EXAMPLES / "systemd/certbot-renew.timer")
    assert service["Type"] == "oneshot"
    assert shlex.split(service["ExecStart"]) == ["/usr/local/bin/certbot", "renew", "--quiet"]
    assert timer["WantedBy"] == "timers.target"
    assert timer["Persistent"] == "true"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    calendar = run([analyze, "calendar", timer["OnCalendar"]])
    assert calendar.returncode == 0, calendar.stderr
    assert "Next elapse" in calendar.stdout
    # verify wants ExecStart's program to exist: the test environment's certbot stands in.
    certbot = str(Path(sys.executable).parent / "certbot")
    copies = [
        mapped_copy(
            EXAMPLES / "systemd/certbot-renew.service",
            tmp_path / "certbot-renew.service",
            {"/usr/local/bin/certbot": certbot},
        ),
        mapped_copy(EXAMPLES / "systemd/certbot-renew.timer", tmp_path / "certbot-renew.timer", {}),
    ]
    result = run([analyze, "verify", *map(str, copies)])
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr


def make_due(box: Sandbox, name: str) -> None:
    """Pebble's certificates live for years: tell certbot to renew this one now."""
    conf = box.config_dir / "renewal" / f"{name}.conf"
    conf.write_text(f"renew_before_expiry = 4000 days\n{conf.read_text()}")


def archived(box: Sandbox, name: str) -> int:
    return len(list((box.config_dir / "archive" / name).glob("cert*.pem")))


@pytest.fixture
def due_certificate(sandbox: Sandbox) -> Sandbox:
    result = sandbox.certonly(["example.test"], cert_name="example.test")
    assert result.returncode == 0, result.stdout + result.stderr
    make_due(sandbox, "example.test")
    return sandbox


def renew_as_written(box: Sandbox, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """A `certbot renew` command line of an example, with the sandbox's directories and CA
    (and without certbot's random sleep of up to 8 minutes, which a terminal-less run gets)."""
    assert Path(argv[0]).name == "certbot"
    return box.run_certbot(*argv[1:], "--no-random-sleep-on-renew")


@pytest.mark.e2e
def test_systemd_units_service_renews_what_is_due(due_certificate: Sandbox) -> None:
    box = due_certificate
    service = unit_settings(EXAMPLES / "systemd/certbot-renew.service")
    result = renew_as_written(box, shlex.split(service["ExecStart"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "", "--quiet: no output unless something fails"
    assert archived(box, "example.test") == 2


def cron_jobs(path: Path) -> tuple[dict[str, str], list[tuple[list[str], str, str]]]:
    """The variables and the jobs (time fields, user, command) of an /etc/cron.d file."""
    variables: dict[str, str] = {}
    jobs: list[tuple[list[str], str, str]] = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^[A-Z_]+=", line):
            key, _, value = line.partition("=")
            variables[key] = value
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, line
        jobs.append((fields[:5], fields[5], fields[6]))
    for times, user, command in jobs:
        assert user == "root"
        assert "%" not in command, "cron turns % into a new line"
        for text, (low, high) in zip(times, CRON_FIELDS, strict=True):
            for part in text.split(","):
                if part == "*":
                    continue
                value = part.split("/")[0]
                assert value.isdigit(), (part, times)
                assert low <= int(value) <= high, (part, times)
    return variables, jobs


@pytest.mark.e2e
def test_renewal_cron_line_renews(due_certificate: Sandbox) -> None:
    box = due_certificate
    variables, jobs = cron_jobs(EXAMPLES / "cron.d/certbot-renew")
    assert variables["SHELL"] == "/bin/sh"
    assert "/usr/local/bin" in variables["PATH"].split(":")
    assert len(jobs) == 1
    times, _, command = jobs[0]
    assert len(times[1].split(",")) == 2, "twice a day"
    result = renew_as_written(box, shlex.split(command))
    assert result.returncode == 0, result.stdout + result.stderr
    assert archived(box, "example.test") == 2


# -- docker -------------------------------------------------------------------------------------


def test_dockerfile_adds_the_plugin_to_certbots_image(
    tmp_path: Path, built: dist.Dist, layer: Path
) -> None:
    """No Docker engine here: the Dockerfile is read as Docker reads it, its base image's
    Python is played by a venv with certbot, and its RUN line installs the built wheel."""
    image = tmp_path / "image"
    base = build_image(EXAMPLES / "docker/Dockerfile", image, built.wheel, layer)
    assert base == "certbot/certbot:latest"
    result = run(
        [
            str(image / "bin/certbot"),
            "plugins",
            "--authenticators",
            "--config-dir",
            str(tmp_path / "config"),
            "--work-dir",
            str(tmp_path / "work"),
            "--logs-dir",
            str(tmp_path / "logs"),
        ],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "* dns-variomedia" in result.stdout
    hadolint = shutil.which("hadolint")
    if hadolint is not None:
        lint = run([hadolint, str(EXAMPLES / "docker/Dockerfile")])
        assert lint.returncode == 0, lint.stdout


# -- cp-audit: the check and its cron line, against the demo's servers ---------------------------


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CpAuditDemo]]:
    """The cp-audit demo's servers, one set per scenario."""
    base = tmp_path_factory.mktemp("cp-audit-demos")
    started: dict[str, CpAuditDemo] = {}
    try:
        for scenario in ("ok", "warning", "critical"):
            started[scenario] = CpAuditDemo.start(base / scenario, scenario)
        yield started
    finally:
        for demo in started.values():
            demo.stop()


def check_env(**extra: str) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    return {**os.environ, "PATH": path, **extra}


CHECK = EXAMPLES / "cp-audit/check_cp_audit"
README_ARGS = ["--domain", "example.de", "--credentials", "/etc/cp-audit/cp.ini"]


def test_check_cp_audit_syntax() -> None:
    syntax_checked(CHECK)


@pytest.mark.parametrize(
    ("scenario", "status", "first_line"),
    [
        ("ok", 0, "CP-AUDIT OK - cp-audit example.test: OK (exit 0)"),
        ("warning", 1, "CP-AUDIT WARNING - mx1.example.test 127.0.0.1:"),
        ("critical", 2, "CP-AUDIT CRITICAL - mx1.example.test 127.0.0.1:"),
    ],
)
def test_check_cp_audit_exit_status_is_the_verdict(
    demos: dict[str, CpAuditDemo], scenario: str, status: int, first_line: str
) -> None:
    args = demos[scenario].arguments(README_ARGS)
    result = run([str(CHECK), *args], env=check_env())
    assert result.returncode == status, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(first_line), lines[0]
    assert "Verdict:" in result.stdout  # the report follows as the long output
    assert result.stdout.count("|") == 1  # only the start of the performance data
    _, perf = split_status_line(lines[0])
    days = perf["days_mx_mx1.example.test"]
    assert (days.warn, days.crit) == ("21:", "7:")  # alert below 21 and 7 days
    assert days.value == pytest.approx({"ok": 90, "warning": 14, "critical": -3}[scenario], abs=0.2)
    share = perf["unencrypted_share"]
    assert (share.unit, share.minimum, share.maximum) == ("%", "0", "100")
    emails = perf["emails"].value
    assert emails == perf["emails_inbound"].value + perf["emails_outbound"].value > 0
    assert share.value == pytest.approx(perf["emails_unencrypted"].value / emails * 100, abs=0.01)
    if scenario == "warning":
        assert "certificate expires in 14 days" in lines[0]
    if scenario == "critical":
        assert "certificate expired 3 days ago" in lines[0]


def test_check_cp_audit_unknown_when_the_audit_cannot_run(tmp_path: Path) -> None:
    missing = tmp_path / "missing.ini"
    result = run(
        [str(CHECK), "--domain", "example.de", "--credentials", str(missing)], env=check_env()
    )
    assert result.returncode == 3
    assert result.stdout.startswith(
        f"CP-AUDIT UNKNOWN - cp-audit: error: The Control Panel credentials file {missing} "
        "does not exist."
    ), result.stdout
    result = run([str(CHECK), *README_ARGS], env=check_env(CP_AUDIT=str(tmp_path / "nope")))
    assert result.returncode == 3
    assert result.stdout.startswith("CP-AUDIT UNKNOWN - cannot run"), result.stdout


def test_check_cp_audit_keeps_the_plugin_output_format(tmp_path: Path) -> None:
    """Any other exit status is UNKNOWN, and a "|" (the start of performance data) is
    replaced wherever cp-audit's text has one."""
    fake = tmp_path / "cp-audit"
    fake.write_text("#!/bin/sh\necho 'a | b'\necho 'x | y' >&2\nexit 9\n")
    fake.chmod(0o755)
    result = run([str(CHECK), *README_ARGS], env=check_env(CP_AUDIT=str(fake)))
    assert result.returncode == 3
    assert (
        result.stdout.splitlines()[0]
        == "CP-AUDIT UNKNOWN - cp-audit ended with exit status 9: x / y"
    )
    assert "|" not in result.stdout


@pytest.mark.parametrize(("scenario", "mailed"), [("ok", False), ("warning", True)])
def test_cp_audit_cron_line_mails_only_when_not_ok(
    demos: dict[str, CpAuditDemo], tmp_path: Path, scenario: str, mailed: bool
) -> None:
    variables, jobs = cron_jobs(EXAMPLES / "cron.d/cp-audit")
    assert "/usr/local/lib/nagios/plugins" in variables["PATH"].split(":")
    assert "MAILTO" in variables
    ((_, _, command),) = jobs
    # The check where the README installs it is played by the example itself; the demo's
    # servers, domain and credentials stand in for the real ones.
    readme_args = " ".join(README_ARGS)
    assert readme_args in command
    command = command.replace(readme_args, shlex.join(demos[scenario].arguments(README_ARGS)))
    bin_dir = tmp_path / "plugins"
    bin_dir.mkdir()
    (bin_dir / "check_cp_audit").symlink_to(CHECK)
    path = f"{bin_dir}{os.pathsep}{check_env()['PATH']}"
    result = run([variables["SHELL"], "-c", command], env={**check_env(), "PATH": path})
    assert result.returncode == 0, result.stderr  # cron needs no status; the output is the mail
    if mailed:
        assert result.stdout.startswith("CP-AUDIT WARNING - "), result.stdout
    else:
        assert result.stdout == "", result.stdout
