"""The local sandbox: Pebble + the Variomedia simulator + certbot with this plugin, on loopback.

It is both the README's demo (``variomedia-sandbox``) and what the end-to-end tests run
certbot in. Pebble's validation authority asks the *slowest* simulated name server, so a plugin
that let the CA validate before every server had the records would fail here as it would in
the wild.

The ``variomedia-sandbox`` command around it is `command`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from ...paths import CACHE_APP, ENV_ACCOUNT_DIR, ENV_CACHE_DIR, ENV_STATE_FILE
from ..acme.pebble import Pebble
from ..servers.service import Service
from ..variomedia.config import SimConfig, SimDomain, SimNameServer
from ..variomedia.simulator import VariomediaSimulator

DEMO_CONFIG = SimConfig(
    domains=(SimDomain("example.test"), SimDomain("other.test")),
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=1.0),
    ),
    job_delay=0.5,
)
DEMO_DOMAINS = ("example.test", "*.example.test", "www.other.test")


def environment_program(name: str) -> str | None:
    """The console script `name` of this Python environment (certbot: the one that can load
    this plugin), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def certbot_executable() -> str:
    found = environment_program("certbot")
    if found is None:
        raise FileNotFoundError("certbot is not installed in this environment")
    return found


class Sandbox(Service):
    """A simulator, a Pebble that validates against its slowest name server, and certbot dirs."""

    def __init__(self, root: str | os.PathLike[str], config: SimConfig = DEMO_CONFIG) -> None:
        self.root = Path(root)
        self.config = config
        self.sim = VariomediaSimulator(config)
        self.pebble: Pebble | None = None
        self.credentials = self.root / "variomedia.ini"
        self.config_dir = self.root / "certbot" / "config"
        self.work_dir = self.root / "certbot" / "work"
        self.logs_dir = self.root / "certbot" / "logs"
        self.cache_dir = self.root / "cache"
        # variomedia-dns's own files (hook state, ACME account), here rather than in /var/lib
        self.state_file = self.root / "variomedia-dns" / "state.json"
        self.account_dir = self.root / "variomedia-dns" / "accounts"

    def start(self) -> Sandbox:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.sim.start()
            delays = [ns.delay for ns in self.config.nameservers]
            slowest = self.sim.nameservers[delays.index(max(delays))]
            self.pebble = Pebble(self.root / "pebble", dns_server=slowest).start()
            self.write_credentials(self.credentials)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.pebble is not None:
            self.pebble.stop()
        self.sim.stop()

    def write_credentials(self, path: Path, *, token: str | None = None) -> Path:
        """A credentials INI for the simulator, mode 0600 from the start."""
        return self.sim.write_credentials(path, token=token)

    @property
    def nameservers_option(self) -> str:
        return ",".join(self.sim.nameservers)

    def client_env(self) -> dict[str, str]:
        """What certbot and variomedia-dns need here: Pebble's CA trusted, and their cache,
        state and ACME account inside the sandbox (not in the user's home or /var/lib)."""
        assert self.pebble is not None
        return {
            "REQUESTS_CA_BUNDLE": str(self.pebble.ca_bundle),
            "XDG_CACHE_HOME": str(self.cache_dir),
            # root's pacing ledger is in /var/cache whatever XDG_CACHE_HOME says: name it.
            ENV_CACHE_DIR: str(self.cache_dir / CACHE_APP),
            ENV_STATE_FILE: str(self.state_file),
            ENV_ACCOUNT_DIR: str(self.account_dir),
        }

    def env(self) -> dict[str, str]:
        """This process's environment with `client_env`, for certbot and variomedia-dns."""
        return {**os.environ, **self.client_env()}

    def certbot_command(self, *args: str) -> list[str]:
        assert self.pebble is not None
        return [
            certbot_executable(),
            *args,
            "--server",
            self.pebble.directory_url,
            "--config-dir",
            str(self.config_dir),
            "--work-dir",
            str(self.work_dir),
            "--logs-dir",
            str(self.logs_dir),
            "--non-interactive",
            "--agree-tos",
            "--register-unsafely-without-email",
        ]

    def plugin_args(self, *, propagation_seconds: int = 60) -> list[str]:
        return [
            "--authenticator",
            "dns-variomedia",
            "--dns-variomedia-credentials",
            str(self.credentials),
            "--dns-variomedia-nameservers",
            self.nameservers_option,
            "--dns-variomedia-propagation-seconds",
            str(propagation_seconds),
        ]

    def run_certbot(
        self,
        *args: str,
        timeout: float = 180.0,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.certbot_command(*args),
            env=env or self.env(),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def certonly(
        self, domains: Sequence[str], *, cert_name: str, extra: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """``certbot certonly`` with the plugin for `domains`."""
        domain_args = [arg for d in domains for arg in ("-d", d)]
        return self.run_certbot(
            "certonly",
            *self.plugin_args(),
            "--cert-name",
            cert_name,
            "--key-type",
            "ecdsa",
            *domain_args,
            *extra,
        )

    def live(self, cert_name: str) -> Path:
        return self.config_dir / "live" / cert_name


def certificate_names(cert_pem: Path) -> list[str]:
    """The DNS names of a certificate's SAN extension, in order."""
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return san.value.get_values_for_type(x509.DNSName)
