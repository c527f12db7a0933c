"""Fixtures of the command's tests: a simulator account and the real console script.

Every test gets its own simulator (own port, so its own pacing ledger) and its own state file,
cache and config directories: nothing reaches the user's (or root's) real files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from certbot_dns_variomedia.nameservers import NameServer
from certbot_dns_variomedia.resolver import Resolver
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

SCRIPT = str(Path(sys.executable).parent / "variomedia-dns")
CHALLENGE = "_acme-challenge.example.test"
FAST = SimConfig(
    domains=(
        SimDomain("example.test"),
        SimDomain("sub.example.test"),
        SimDomain("other.test", presence=False),
    ),
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.3),
    ),
    job_delay=0.2,
)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of an isolated run (also applied to this process, for `cli.main`)."""
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "VARIOMEDIA_DNS_CACHE_DIR": str(tmp_path / "cache" / "certbot-dns-variomedia"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "VARIOMEDIA_DNS_STATE_FILE": str(tmp_path / "state.json"),
        "VARIOMEDIA_DNS_ACCOUNT_DIR": str(tmp_path / "accounts"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("VARIOMEDIA_API_TOKEN", "VARIOMEDIA_API_URL", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    return {k: v for k, v in os.environ.items() if not k.startswith("CERTBOT_")}


@dataclass
class Account:
    """A running simulator and how to reach it."""

    sim: VariomediaSimulator
    env: dict[str, str]  # cli_env plus the token and URL variables
    credentials: Path  # an INI file with the same, mode 0600
    state_file: Path

    @property
    def nameservers(self) -> str:
        return ",".join(self.sim.nameservers)

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """The real console script, as a user (or certbot) runs it."""
        return run_script(*args, env={**self.env, **(env or {})}, timeout=timeout)

    def live_challenges(self) -> list[str]:
        """Ids of _acme-challenge records the API still holds."""
        return [
            r.id
            for r in self.sim.records()
            if not r.deleted and r.fqdn_ace.startswith("_acme-challenge.")
        ]


def run_script(
    *args: str, env: Mapping[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def write_credentials(path: Path, token: str, url: str, mode: int = 0o600) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(f"dns_variomedia_token = {token}\ndns_variomedia_api_url = {url}\n")
    os.chmod(path, mode)
    return path


def start_account(
    config: SimConfig, tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Account]:
    with VariomediaSimulator(config) as sim:
        monkeypatch.setenv("VARIOMEDIA_API_TOKEN", sim.token)
        monkeypatch.setenv("VARIOMEDIA_API_URL", sim.url)
        env = {**cli_env, "VARIOMEDIA_API_TOKEN": sim.token, "VARIOMEDIA_API_URL": sim.url}
        credentials = write_credentials(tmp_path / "variomedia.ini", sim.token, sim.url)
        yield Account(sim, env, credentials, tmp_path / "state.json")


@pytest.fixture
def account(
    tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Account]:
    """A simulator with example.test and sub.example.test hosted, other.test registered only."""
    yield from start_account(FAST, tmp_path, cli_env, monkeypatch)


@pytest.fixture
def internet_like() -> Iterator[tuple[VariomediaSimulator, Resolver]]:
    """Name servers on 127.0.0.2 and 127.0.0.3 sharing one port, found by their NS names."""
    with VariomediaSimulator(replace(FAST, dns_addresses=("127.0.0.2", "127.0.0.3"))) as sim:
        port = sim.dns_servers[0].port
        yield sim, Resolver(bootstrap=[NameServer("127.0.0.2", "127.0.0.2", port)], port=port)
