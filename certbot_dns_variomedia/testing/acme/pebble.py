"""Run Debian's Pebble (``/usr/bin/pebble``) on loopback for tests and the sandbox.

Pebble is Let's Encrypt's small ACME test server. Debian's package ships the binary without the
test certificate the upstream configuration points to, so we make one with :mod:`certs` and
hand its CA to the ACME client (certbot reads it from ``REQUESTS_CA_BUNDLE``). Every port is
picked free at start; a start that loses a port race is retried with new ports. Pebble's output
goes to a log file whose tail is part of every start-up error, because "Pebble did not start"
alone is no help to whoever reads the CI log.

Typical use::

    with Pebble(tmp_path / "pebble", dns_server=f"127.0.0.1:{dns.port}") as pebble:
        run_certbot("--server", pebble.directory_url, env={"REQUESTS_CA_BUNDLE": pebble.ca_bundle})
        root = pebble.root_pem()      # the root that signed the issued certificate
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import requests

from ...clock import SYSTEM_CLOCK, Clock
from ..servers.process import ProcessService, log_tail
from ..servers.service import free_port
from .certs import CertificateAuthority, IssuedCert
from .directory import directory_problem

__all__ = ["DEFAULT_BINARY", "Pebble", "PebbleError"]

DEFAULT_BINARY = "/usr/bin/pebble"
_HOST = "127.0.0.1"
_START_ATTEMPTS = 3  # port races are rare; three tries make a flaky start vanishingly unlikely
_POLL_INTERVAL = 0.05
_HTTP_TIMEOUT = (2.0, 5.0)  # (connect, read) for every request to Pebble
# Start-up probes are short: on loopback a live Pebble answers in milliseconds, and a port taken
# by someone else must not hold up noticing that Pebble has exited.
_LOG_TAIL_LINES = 40


class PebbleError(RuntimeError):
    """Pebble could not be started, or did not answer as it should."""


class Pebble(ProcessService):
    """One Pebble process with its own CA, config, ports and log, under ``workdir``.

    ``dns_server`` (``"host:port"``, IPv6 as ``"[::1]:53"``) is where Pebble's validation
    authority resolves names (the ``_acme-challenge`` TXT records); ``None`` leaves Pebble on
    the system's resolver, which tests never want. ``authz_reuse`` and ``nonce_reject`` are the
    percentages of Pebble's ``PEBBLE_AUTHZREUSE`` and ``PEBBLE_WFE_NONCEREJECT`` (0: every
    order gets fresh challenges, no nonce is rejected at random); ``env`` adds or overrides
    Pebble environment variables (e.g. ``PEBBLE_VA_ALWAYS_VALID``). ``http_port`` and
    ``tls_port`` are where the validation authority connects for HTTP-01 and TLS-ALPN-01
    (free ports when not given, so no stray service is probed).
    """

    def __init__(
        self,
        workdir: Path | str,
        *,
        dns_server: str | None = None,
        authz_reuse: int = 0,
        nonce_reject: int = 0,
        va_nosleep: bool = True,
        env: Mapping[str, str] | None = None,
        http_port: int | None = None,
        tls_port: int | None = None,
        strict: bool = False,
        binary: str = DEFAULT_BINARY,
        start_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.workdir = Path(workdir)
        self.dns_server = dns_server
        self.strict = strict
        self.binary = binary
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._clock = clock
        self._requested_http_port = http_port
        self._requested_tls_port = tls_port
        self._env: dict[str, str] = {
            "PEBBLE_VA_NOSLEEP": "1" if va_nosleep else "0",
            "PEBBLE_WFE_NONCEREJECT": str(nonce_reject),
            "PEBBLE_AUTHZREUSE": str(authz_reuse),
        }
        self._env.update(env or {})
        self.config_path = self.workdir / "pebble-config.json"
        self.log_path = self.workdir / "pebble.log"
        self._ca: CertificateAuthority | None = None
        self._leaf: IssuedCert | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._session: requests.Session | None = None
        self.acme_port: int | None = None
        self.management_port: int | None = None
        self.http_port: int | None = None
        self.tls_port: int | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Pebble(workdir={str(self.workdir)!r}, port={self.acme_port}, {state})"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Pebble:
        """Start Pebble and return once its directory answers over verified HTTPS.

        Raises :class:`PebbleError` (with the tail of Pebble's log) when the binary is missing,
        the process exits, or the directory does not answer within ``start_timeout``.
        """
        if self.running:
            return self
        if not os.access(self.binary, os.X_OK):
            raise PebbleError(
                f"{self.binary} is not an executable; install Debian's 'pebble' package"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._make_certificate()
        for attempt in range(1, _START_ATTEMPTS + 1):
            self._launch()
            try:
                self._wait_until_ready()
            except _PortTaken:
                self.stop()
                if attempt == _START_ATTEMPTS:
                    raise PebbleError(
                        f"Pebble could not bind its ports in {_START_ATTEMPTS} attempts\n"
                        + self._tail_text()
                    ) from None
                continue
            except BaseException:
                self.stop()
                raise
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop Pebble: SIGTERM, then SIGKILL after ``stop_timeout``. Safe to call repeatedly."""
        if self._session is not None:
            self._session.close()
            self._session = None
        super().stop()

    @property
    def pid(self) -> int | None:
        """The process id while started, else ``None``."""
        return self._process.pid if self._process is not None else None

    # -- what clients need ------------------------------------------------------------------

    @property
    def directory_url(self) -> str:
        """The ACME directory, e.g. ``https://127.0.0.1:41234/dir`` (certbot's ``--server``)."""
        return f"https://{_HOST}:{self._port(self.acme_port)}/dir"

    @property
    def management_url(self) -> str:
        """Base URL of Pebble's management interface (``/roots/0``, ``/intermediates/0``)."""
        return f"https://{_HOST}:{self._port(self.management_port)}"

    @property
    def ca_bundle(self) -> Path:
        """PEM file that verifies Pebble's HTTPS (give it to clients as ``REQUESTS_CA_BUNDLE``).

        Not Pebble's issuing root: that one signs the certificates Pebble issues; see
        :meth:`root_pem`.
        """
        if self._ca is None:
            raise PebbleError("Pebble has not been started")
        return self._ca.cert_path

    def root_pem(self) -> str:
        """The root that signs issued certificates (made anew by every Pebble start)."""
        return self._management_get("/roots/0")

    def intermediate_pem(self) -> str:
        """The intermediate below :meth:`root_pem` that signs leaf certificates."""
        return self._management_get("/intermediates/0")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of Pebble's log, for error messages."""
        return log_tail(self.log_path, lines)

    # -- internals ---------------------------------------------------------------------------

    def _port(self, port: int | None) -> int:
        if port is None:
            raise PebbleError("Pebble has not been started")
        return port

    def _make_certificate(self) -> None:
        if self._ca is not None:
            return
        tls_dir = self.workdir / "tls"
        self._ca = CertificateAuthority.create(tls_dir, name="Pebble HTTPS test CA", filename="ca")
        self._leaf = self._ca.issue(["localhost", _HOST], filename="pebble")

    def _write_config(self) -> None:
        assert self._leaf is not None
        acme, management, http, tls = free_port(count=4)
        self.acme_port = acme
        self.management_port = management
        self.http_port = self._requested_http_port or http
        self.tls_port = self._requested_tls_port or tls
        config = {
            "pebble": {
                "listenAddress": f"{_HOST}:{self.acme_port}",
                "managementListenAddress": f"{_HOST}:{self.management_port}",
                "certificate": str(self._leaf.fullchain_path),
                "privateKey": str(self._leaf.key_path),
                "httpPort": self.http_port,
                "tlsPort": self.tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        self.config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    def _launch(self) -> None:
        self._write_config()
        argv = [self.binary, "-config", str(self.config_path)]
        if self.dns_server is not None:
            argv += ["-dnsserver", self.dns_server]
        if self.strict:
            argv.append("-strict")
        # A clean environment: no proxy variables that would send the VA's requests elsewhere.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self._env}
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.workdir,
        )
        self._session = requests.Session()
        self._session.trust_env = False  # ignore proxies; we verify with our own CA below

    def _wait_until_ready(self) -> None:
        deadline = self._clock.monotonic() + self.start_timeout
        last_problem = "no answer yet"
        while True:
            process = self._process
            assert process is not None
            if process.poll() is not None:
                tail = self.log_tail()
                if "address already in use" in tail:
                    raise _PortTaken
                raise PebbleError(
                    f"Pebble exited with status {process.returncode} during start-up\n"
                    + self._tail_text()
                )
            assert self._session is not None
            problem = directory_problem(self._session, self.directory_url, ca_bundle=self.ca_bundle)
            if problem is None:
                return
            last_problem = problem
            if self._clock.monotonic() >= deadline:
                raise PebbleError(
                    f"Pebble's directory {self.directory_url} did not answer within "
                    f"{self.start_timeout:g} s (last: {last_problem})\n" + self._tail_text()
                )
            self._clock.sleep(_POLL_INTERVAL)

    def _get(self, url: str, *, timeout: tuple[float, float] = _HTTP_TIMEOUT) -> requests.Response:
        if self._session is None:
            raise PebbleError("Pebble has not been started")
        return self._session.get(url, verify=str(self.ca_bundle), timeout=timeout)

    def _management_get(self, path: str) -> str:
        url = self.management_url + path
        try:
            response = self._get(url)
        except requests.RequestException as exc:
            raise PebbleError(f"GET {url} failed: {exc}") from exc
        if response.status_code != 200:
            raise PebbleError(f"GET {url} answered HTTP {response.status_code}")
        return response.text

    def _tail_text(self) -> str:
        tail = self.log_tail()
        if not tail:
            return f"(Pebble's log {self.log_path} is empty)"
        return f"last lines of {self.log_path}:\n{tail}"


class _PortTaken(Exception):
    """Pebble lost the race for one of its ports; start again with new ones."""
