"""Run acme2certifier on loopback: a third-party ACME server that validates dns-persist-01.

Debian's Pebble predates the dns-persist-01 challenge, so the tests that issue with it need a CA
that no one here wrote: acme2certifier (PyPI, GPL; the ``acme-ca`` extra pins it), served by
werkzeug over HTTPS from a child process, with its OpenSSL CA handler and a SQLite file under
``workdir``. Its validator asks the DNS servers of ``dns_servers`` (addresses only: it always
asks port 53) for ``_validation-persist`` and ``_acme-challenge`` TXT records.

A child process, because the server reads its configuration once, at import, and replaces
dnspython's default resolver process-wide: neither may leak into the test process. The child
binds port 0 and writes the port it got to a file, so there is no port race to retry.

Typical use::

    with Acme2Certifier(tmp_path / "ca", dns_servers=["127.53.0.1"]) as ca:
        obtain_certificate(..., directory_url=ca.directory_url, ca_bundle=str(ca.ca_bundle))
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

import requests

from ...clock import SYSTEM_CLOCK, Clock
from ..servers.process import ProcessService, log_tail
from .certs import CertificateAuthority, IssuedCert
from .directory import directory_problem

__all__ = ["DEFAULT_ISSUER", "Acme2Certifier", "Acme2CertifierError"]

DEFAULT_ISSUER = "ca.variomedia.test"
"""The issuer domain name the server puts in its directory's caaIdentities and its challenges."""

_HOST = "127.0.0.1"
_POLL_INTERVAL = 0.05
_LOG_TAIL_LINES = 40
_PORT_FILE = "port"


class Acme2CertifierError(RuntimeError):
    """acme2certifier could not be started, or is not installed."""


class Acme2Certifier(ProcessService):
    """One acme2certifier server with its own CA, database, configuration and log.

    ``issuer_names`` become the directory's ``caaIdentities`` and every dns-persist-01
    challenge's ``issuer-domain-names`` (tests give 0 or 11 to make a malformed challenge).
    ``dns_01`` also offers dns-01 beside dns-persist-01 (http-01 and tls-alpn-01 stay off:
    nothing here answers them). ``persist_wildcard`` lets a ``policy=wildcard`` record
    validate a wildcard name (without it acme2certifier fails every wildcard authorization).
    """

    def __init__(
        self,
        workdir: Path | str,
        *,
        dns_servers: Sequence[str],
        issuer_names: Sequence[str] = (DEFAULT_ISSUER,),
        dns_01: bool = False,
        persist_wildcard: bool = True,
        cert_validity_days: int = 7,
        start_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not dns_servers:
            raise ValueError("acme2certifier needs at least one DNS server to validate with")
        self.workdir = Path(workdir).absolute()
        self.dns_servers = tuple(dns_servers)
        self.issuer_names = tuple(issuer_names)
        self.dns_01 = dns_01
        self.persist_wildcard = persist_wildcard
        self.cert_validity_days = cert_validity_days
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._clock = clock
        self.config_path = self.workdir / "acme_srv.cfg"
        self.log_path = self.workdir / "acme2certifier.log"
        self._ca: CertificateAuthority | None = None
        self._tls: IssuedCert | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.port: int | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Acme2Certifier(workdir={str(self.workdir)!r}, port={self.port}, {state})"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Acme2Certifier:
        """Start the server; return once its directory answers over verified HTTPS."""
        if self.running:
            return self
        try:
            import acme2certifier  # noqa: F401, PLC0415 - only to say plainly when it is missing
        except ImportError:
            raise Acme2CertifierError(
                "acme2certifier is not installed; install the test CA's extra: "
                "pip install 'certbot-dns-variomedia[acme-ca]' (it pins acme2certifier==0.46.3)"
            ) from None
        self._prepare()
        assert self._tls is not None
        (self.workdir / _PORT_FILE).unlink(missing_ok=True)
        env = {
            **os.environ,
            "ACME2CERTIFIER_BASE_DIR": str(self.workdir),
            "ACME_SRV_CONFIGFILE": str(self.config_path),
        }
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                __name__,
                str(self.workdir),
                str(self._tls.fullchain_path),
                str(self._tls.key_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.workdir,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    # -- what clients need ------------------------------------------------------------------

    @property
    def directory_url(self) -> str:
        """``https://127.0.0.1:<port>/directory``; account URLs start with the same origin."""
        if self.port is None:
            raise Acme2CertifierError("acme2certifier has not been started")
        return f"https://{_HOST}:{self.port}/directory"

    @property
    def ca_bundle(self) -> Path:
        """The PEM that verifies the server's HTTPS; the same CA signs issued certificates."""
        if self._ca is None:
            raise Acme2CertifierError("acme2certifier has not been started")
        return self._ca.cert_path

    @property
    def issuer_pem(self) -> str:
        """The CA certificate that signs every certificate this server issues."""
        if self._ca is None:
            raise Acme2CertifierError("acme2certifier has not been started")
        return self._ca.pem

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The end of the server's log: acme2certifier gives a rejection's reason only there."""
        return log_tail(self.log_path, lines)

    # -- internals ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        """The CA, the HTTPS certificate, the directories and the configuration file."""
        (self.workdir / "ca" / "certs").mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        if self._ca is None:
            self._ca = CertificateAuthority.create(
                self.workdir / "ca", name="acme2certifier test CA", filename="ca"
            )
            self._tls = self._ca.issue([_HOST, "localhost"], filename="tls")
        assert self._tls is not None
        self.config_path.write_text(self._config(), encoding="utf-8")

    def _config(self) -> str:
        """acme_srv.cfg: configparser, so comments on their own lines only."""
        assert self._ca is not None
        assert self._tls is not None
        on = {True: "True", False: "False"}
        return "\n".join(
            [
                "[DEFAULT]",
                "debug: False",
                f"dns_server_list: {json.dumps(list(self.dns_servers))}",
                "[Account]",
                "contact_check_disable: True",
                "[CAhandler]",
                "handler_module: acme2certifier.cahandlers.openssl_ca_handler",
                f"issuing_ca_key: {self._ca.key_path}",
                f"issuing_ca_cert: {self._ca.cert_path}",
                "issuing_ca_crl: ca/crl.pem",
                "cert_save_path: ca/certs",
                f"cert_validity_days: {self.cert_validity_days}",
                "[DBhandler]",
                "handler: wsgi",
                "dbfile: data/acme_srv.db",
                "[Directory]",
                f"caaidentities: {json.dumps(list(self.issuer_names))}",
                "[Challenge]",
                "dns_persist_01_support: True",
                f"dns_persist_allow_policy_wildcard: {on[self.persist_wildcard]}",
                f"dns_01_support: {on[self.dns_01]}",
                "http_01_support: False",
                "tls_alpn_01_support: False",
                "",
            ]
        )

    def _wait_until_ready(self) -> None:
        deadline = self._clock.monotonic() + self.start_timeout
        port_file = self.workdir / _PORT_FILE
        last = "no port yet"
        with requests.Session() as session:
            session.trust_env = False  # no proxy between the test and loopback
            while True:
                process = self._process
                assert process is not None
                if process.poll() is not None:
                    raise Acme2CertifierError(
                        f"acme2certifier exited with status {process.returncode} during "
                        f"start-up\n{self._tail_text()}"
                    )
                if self.port is None and port_file.exists():
                    text = port_file.read_text(encoding="ascii").strip()
                    self.port = int(text) if text.isdigit() else None
                if self.port is not None:
                    problem = directory_problem(
                        session, self.directory_url, ca_bundle=self.ca_bundle
                    )
                    if problem is None:
                        return
                    last = problem
                if self._clock.monotonic() >= deadline:
                    raise Acme2CertifierError(
                        f"acme2certifier did not answer within {self.start_timeout:g} s "
                        f"(last: {last})\n{self._tail_text()}"
                    )
                self._clock.sleep(_POLL_INTERVAL)

    def _tail_text(self) -> str:
        tail = self.log_tail()
        return f"last lines of {self.log_path}:\n{tail}" if tail else f"({self.log_path} is empty)"


# -- the child process ---------------------------------------------------------------------------


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(workdir: Path, cert: Path, key: Path) -> int:
    """Serve acme2certifier's WSGI application from `workdir` until SIGTERM, over HTTPS with
    `cert` and `key`."""
    os.chdir(workdir)
    from acme2certifier.share.acme2certifier_wsgi import application  # noqa: PLC0415
    from werkzeug.serving import make_server  # noqa: PLC0415

    server = make_server(_HOST, 0, application, threaded=True, ssl_context=(str(cert), str(key)))
    port_file = workdir / _PORT_FILE
    partial = port_file.with_suffix(".tmp")
    partial.write_text(str(server.server_address[1]), encoding="ascii")
    partial.replace(port_file)  # whole or absent: the parent never reads half a number
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve acme2certifier from a work directory prepared by Acme2Certifier."
    )
    parser.add_argument("workdir", type=Path)
    parser.add_argument("cert", type=Path, help="the HTTPS certificate chain (PEM)")
    parser.add_argument("key", type=Path, help="its private key (PEM)")
    args = parser.parse_args(argv)
    return serve(args.workdir.absolute(), args.cert, args.key)


if __name__ == "__main__":
    sys.exit(main())
