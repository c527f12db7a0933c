"""The local sandbox: Pebble + the Variomedia simulator + certbot with this plugin, on loopback.

It is both the README's demo (``variomedia-sandbox``) and what the end-to-end tests run
certbot in. Pebble's validation authority asks the *slowest* simulated name server, so a plugin
that let the CA validate before every server had the records would fail here as it would in
the wild.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

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


def certbot_executable() -> str:
    """The certbot of this Python environment (the one that can load this plugin)."""
    beside = Path(sys.executable).parent / "certbot"
    if beside.exists():
        return str(beside)
    found = shutil.which("certbot")
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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(
                "# Variomedia simulator credentials (loopback only)\n"
                f"dns_variomedia_token = {token or self.sim.token}\n"
                f"dns_variomedia_api_url = {self.sim.url}\n"
            )
        return path

    @property
    def nameservers_option(self) -> str:
        return ",".join(self.sim.nameservers)

    def env(self) -> dict[str, str]:
        """certbot's environment: Pebble's CA trusted, caches inside the sandbox."""
        assert self.pebble is not None
        env = dict(os.environ)
        env.update(
            REQUESTS_CA_BUNDLE=str(self.pebble.ca_bundle),
            XDG_CACHE_HOME=str(self.cache_dir),
        )
        return env

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
        self, *args: str, timeout: float = 180.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.certbot_command(*args),
            env=env or self.env(),
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


def main(argv: Sequence[str] | None = None) -> int:
    """Issue an apex + wildcard certificate on the sandbox and show where it is."""
    parser = argparse.ArgumentParser(
        prog="variomedia-sandbox",
        description="Issue a wildcard certificate with certbot --authenticator dns-variomedia "
        "against Pebble and the Variomedia simulator, all on 127.0.0.1.",
    )
    parser.add_argument(
        "--dir", help="where to keep the sandbox (default: a new temporary directory)"
    )
    parser.add_argument(
        "-d",
        "--domain",
        action="append",
        help="certificate names (default: example.test, *.example.test, www.other.test)",
    )
    args = parser.parse_args(argv)
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="variomedia-sandbox-"))
    domains = args.domain or ["example.test", "*.example.test", "www.other.test"]
    with Sandbox(root) as box:
        assert box.pebble is not None
        print(f"Variomedia simulator: {box.sim.url} (name servers {box.nameservers_option})")
        print(f"Pebble ACME server:   {box.pebble.directory_url}")
        print(f"Running: certbot certonly --authenticator dns-variomedia -d {' -d '.join(domains)}")
        result = box.certonly(domains, cert_name="sandbox")
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            print(f"certbot failed (exit status {result.returncode}); log: {box.logs_dir}")
            return 1
        live = box.live("sandbox")
        left = [
            r for r in box.sim.records() if r.name.startswith("_acme-challenge") and not r.deleted
        ]
        print()
        print(f"Certificate: {live / 'fullchain.pem'}")
        print(f"Private key: {live / 'privkey.pem'}")
        print(f"Names:       {', '.join(certificate_names(live / 'cert.pem'))}")
        print(f"API requests: {box.sim.counters.total}; challenge records left: {len(left)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
