"""Every message in the README's troubleshooting table is one the code really prints.

Each row quotes a message (``…`` where the details of a case go). For each row a scenario
here brings the message about — through the ``variomedia-dns`` console script, a real certbot
run with the plugin against Pebble, or, where waiting out retries would take a minute, the API
client in-process with a clock that does not wait — and the quoted parts must appear in the
output, in order. A row without a scenario, or a scenario without a row, fails the test.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certbot_dns_variomedia.api.client import VariomediaClient
from certbot_dns_variomedia.errors import VariomediaError
from certbot_dns_variomedia.pacing import RequestPacer
from certbot_dns_variomedia.resolver import Resolver, parse_nameservers
from certbot_dns_variomedia.testing.acme.pebble import Pebble
from certbot_dns_variomedia.testing.demo.sandbox import certbot_executable
from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones
from certbot_dns_variomedia.testing.variomedia.simulator import (
    Lockout,
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

from . import dist
from .markdown import Document, normalize_space, split_pattern

README = Document.read(dist.REPO / "README.md")
ROWS = README.table("Troubleshooting")
SCRIPT = str(Path(sys.executable).parent / "variomedia-dns")
# example.org is registered without DNS at Variomedia; ns2 never publishes what the API writes.
ACCOUNT = SimConfig(
    domains=(SimDomain("example.de"), SimDomain("example.org", presence=False)),
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", publish=False),
    ),
    job_delay=0.1,
)


@dataclass
class Account:
    sim: VariomediaSimulator
    tmp: Path
    credentials: Path
    env: dict[str, str]

    def credentials_file(self, name: str, text: str, mode: int = 0o600) -> Path:
        path = self.tmp / name
        path.write_text(text)
        path.chmod(mode)
        return path

    def command(self, *args: str, env: dict[str, str] | None = None) -> str:
        """The console script; what a user sees (stdout and stderr)."""
        result = subprocess.run(
            [SCRIPT, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode != 0 or "warning" in result.stderr, result.stdout
        return result.stdout + result.stderr

    def hook(self, *options: str, seconds: int) -> str:
        """The last auth hook of an order (the one that waits), as certbot runs it."""
        env = {
            "CERTBOT_DOMAIN": "example.de",
            "CERTBOT_VALIDATION": secrets.token_urlsafe(32),
            "CERTBOT_REMAINING_CHALLENGES": "0",
        }
        return self.command(
            "certbot-auth",
            "--credentials",
            str(self.credentials),
            "--nameservers",
            ",".join(self.sim.nameservers),
            "--propagation-seconds",
            str(seconds),
            *options,
            env=env,
        )


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    tmp = tmp_path_factory.mktemp("troubleshooting")
    with VariomediaSimulator(ACCOUNT) as sim:
        credentials = tmp / "variomedia.ini"
        credentials.write_text(
            f"dns_variomedia_token = {sim.token}\ndns_variomedia_api_url = {sim.url}\n"
        )
        credentials.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VARIOMEDIA_", "CERTBOT_"))}
        env.update(
            XDG_CACHE_HOME=str(tmp / "cache"),
            VARIOMEDIA_DNS_CACHE_DIR=str(tmp / "cache" / "certbot-dns-variomedia"),
            XDG_CONFIG_HOME=str(tmp / "config"),
            XDG_STATE_HOME=str(tmp / "state"),
            VARIOMEDIA_DNS_STATE_FILE=str(tmp / "state.json"),
        )
        yield Account(sim, tmp, credentials, env)


@pytest.fixture(autouse=True)
def no_faults_left(account: Account) -> Iterator[None]:
    yield
    account.sim.faults.clear()


# -- the scenarios, by the first words of their row ---------------------------------------------


def unsafe_permissions(a: Account) -> str:
    path = a.credentials_file("readable.ini", a.credentials.read_text(), mode=0o644)
    return a.command("records", "list", "--credentials", str(path))


def missing_file(a: Account) -> str:
    return a.command("records", "list", "--credentials", str(a.tmp / "nowhere.ini"))


def typo(a: Account) -> str:
    path = a.credentials_file("typo.ini", "dns_variomedia_tokn = 0123456789abcdef\n")
    return a.command("records", "list", "--credentials", str(path))


def malformed_token(a: Account) -> str:
    path = a.credentials_file("quoted.ini", 'dns_variomedia_token = "0123 4567"\n')
    return a.command("records", "list", "--credentials", str(path))


def plain_http(a: Account) -> str:
    text = (
        "dns_variomedia_token = 0123456789abcdef\ndns_variomedia_api_url = http://api.example.de\n"
    )
    path = a.credentials_file("http.ini", text)
    return a.command("records", "list", "--credentials", str(path))


def refused_token(a: Account) -> str:
    a.sim.faults.expire_token()
    return a.command("records", "list", "--credentials", str(a.credentials))


def locked_out(a: Account) -> str:
    """A 401 is one error too many for an API that locks out after one: the next request
    gets 403 (the real API's limit is higher; the answer is the same)."""
    config = SimConfig(domains=ACCOUNT.domains, lockout=Lockout(errors=1, status=403))
    with VariomediaSimulator(config) as sim:
        good = a.credentials_file(
            "lockout.ini",
            f"dns_variomedia_token = {sim.token}\ndns_variomedia_api_url = {sim.url}\n",
        )
        bad = a.credentials_file(
            "lockout-bad.ini",
            f"dns_variomedia_token = wrongtoken1\ndns_variomedia_api_url = {sim.url}\n",
        )
        a.command("records", "list", "--credentials", str(bad))
        return a.command("records", "list", "--credentials", str(good))


def client(url: str, token: str) -> VariomediaClient:
    """The plugin's client, with a clock whose waits between retries take no time."""
    clock = FakeClock()
    return VariomediaClient(token, url, clock=clock, pacer=RequestPacer(clock=clock))


def failure_of(call: Callable[[], object]) -> str:
    try:
        call()
    except VariomediaError as e:
        return str(e)
    raise AssertionError("no error")


def no_answer(a: Account) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    with client(f"http://127.0.0.1:{port}", a.sim.token) as api:
        return failure_of(api.list_domains)


def html_error(a: Account) -> str:
    a.sim.faults.html_errors(count=10, status=502)
    with client(a.sim.url, a.sim.token) as api:
        return failure_of(api.list_domains)


def rate_limited(a: Account) -> str:
    a.sim.faults.rate_limit_storm(count=1, retry_after=600)
    return a.command("records", "list", "--credentials", str(a.credentials))


def not_in_account(a: Account) -> str:
    return a.command(
        "records", "add", "www.example.net", "TXT", "x", "--credentials", str(a.credentials)
    )


def not_hosted(a: Account) -> str:
    return a.command(
        "records", "add", "www.example.org", "TXT", "x", "--credentials", str(a.credentials)
    )


def no_name_servers(a: Account) -> str:
    """The zone's NS lookup, through a resolver that refuses (as a broken resolv.conf does)."""
    with DNSServer(StaticZones()) as refusing:
        resolver = Resolver(bootstrap=parse_nameservers(f"127.0.0.1:{refusing.port}"))
        return failure_of(lambda: resolver.authoritative_servers("example.de"))


def propagation_timeout(a: Account) -> str:
    return a.hook(seconds=2)


def not_authoritative(a: Account) -> str:
    """--nameservers names a server that answers like a resolver (no AA bit)."""
    server = a.sim.dns_servers[0]
    server.behaviour = "non-authoritative"
    try:
        return a.hook(seconds=300)  # told at once, not after 300 s (the command's bound: 120)
    finally:
        server.behaviour = "normal"


def queue_behind(a: Account) -> str:
    a.sim.faults.stick_jobs(1, method="POST")
    output = a.hook(seconds=2)
    # A wait that short names the setting; it does not blame the API.
    assert "too soon for the queue; raise --propagation-seconds (now 2" in output
    return output


def job_failed(a: Account) -> str:
    a.sim.faults.fail_jobs(1, method="POST")
    return a.hook(seconds=20)


def hook_by_hand(a: Account) -> str:
    return a.command("certbot-auth", "--credentials", str(a.credentials))


@pytest.fixture(scope="module")
def wrong_dns(account: Account, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """A CA that asks a name server the plugin does not know (one without the records)."""
    zones = StaticZones()
    zones.add_zone("example.de")
    with (
        DNSServer(zones) as other,
        Pebble(tmp_path_factory.mktemp("pebble"), dns_server=f"127.0.0.1:{other.port}") as pebble,
    ):
        yield pebble


def certbot(a: Account, pebble: Pebble, *options: str) -> str:
    work = a.tmp / f"certbot-{secrets.token_hex(4)}"
    argv = [
        certbot_executable(),
        "certonly",
        "--authenticator",
        "dns-variomedia",
        *options,
        "--dns-variomedia-nameservers",
        a.sim.nameservers[0],  # the one that publishes: the plugin's wait ends, the CA's starts
        "-d",
        "example.de",
        "--server",
        pebble.directory_url,
        "--config-dir",
        str(work / "config"),
        "--work-dir",
        str(work / "work"),
        "--logs-dir",
        str(work / "logs"),
        "--non-interactive",
        "--agree-tos",
        "--register-unsafely-without-email",
    ]
    env = {**a.env, "REQUESTS_CA_BUNDLE": str(pebble.ca_bundle)}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


# The scenario of a row is found by the first words of its message.
SCENARIOS: dict[str, Callable[[Account], str]] = {
    "Unsafe permissions on credentials": unsafe_permissions,
    "The credentials file": missing_file,
    "Unknown key 'dns_variomedia_tokn'": typo,
    "The API token in dns_variomedia_token": malformed_token,
    "The API URL '": plain_http,
    "The API token was refused (401": refused_token,
    "The API refused GET /domains (403": locked_out,
    "No answer from the Variomedia API": no_answer,
    "The Variomedia API answered GET /domains with status 502": html_error,
    "The Variomedia API kept refusing requests": rate_limited,
    "is not in a domain of this Variomedia account": not_in_account,
    "is in": not_hosted,
    "Cannot find the name servers": no_name_servers,
    "The TXT records are not visible": propagation_timeout,
    "The name server": not_authoritative,
    "Variomedia's queue has not carried out": queue_behind,
    "Variomedia's queue job": job_failed,
    "CERTBOT_DOMAIN and CERTBOT_VALIDATION not set": hook_by_hand,
}
# Rows only a certbot run shows (they need the CA), with the plugin options of the run.
CERTBOT_SCENARIOS: dict[str, tuple[str, ...]] = {
    "Missing command line flag or config entry": (),
    "The Certificate Authority failed to verify": ("--dns-variomedia-credentials",),
}


def key_of(cell: str) -> str:
    """The scenario whose words start the row's message (exactly one)."""
    first = split_pattern(cell)[0]
    keys = [k for k in (*SCENARIOS, *CERTBOT_SCENARIOS) if first == k or first.startswith(k + " ")]
    keys = keys or [k for k in (*SCENARIOS, *CERTBOT_SCENARIOS) if first.startswith(k)]
    assert len(keys) == 1, (first, keys)
    return keys[0]


def test_every_row_has_a_scenario_and_every_scenario_a_row() -> None:
    keys = [key_of(row[0]) for row in ROWS]
    assert len(keys) == len(set(keys)), keys
    assert set(keys) == set(SCENARIOS) | set(CERTBOT_SCENARIOS)


def assert_shows(output: str, cell: str) -> None:
    """The quoted parts of the README's message, in order, in what the user saw."""
    text = normalize_space(output)
    position = 0
    for part in split_pattern(cell):
        found = text.find(normalize_space(part), position)
        assert found >= 0, f"{part!r} not in (after position {position}):\n{output}"
        position = found + len(part)


@pytest.mark.parametrize(
    "cell",
    [row[0] for row in ROWS if key_of(row[0]) in SCENARIOS],
    ids=lambda cell: split_pattern(cell)[0][:40],
)
def test_message_is_what_the_code_prints(account: Account, cell: str) -> None:
    output = SCENARIOS[key_of(cell)](account)
    assert_shows(output, cell)
    assert account.sim.token not in output


@pytest.mark.e2e
@pytest.mark.parametrize(
    "cell",
    [row[0] for row in ROWS if key_of(row[0]) in CERTBOT_SCENARIOS],
    ids=lambda cell: split_pattern(cell)[0][:40],
)
def test_message_is_what_certbot_shows(account: Account, wrong_dns: Pebble, cell: str) -> None:
    options = CERTBOT_SCENARIOS[key_of(cell)]
    if options:
        options = (*options, str(account.credentials))
    output = certbot(account, wrong_dns, *options)
    assert_shows(output, cell)
    assert account.sim.token not in output
