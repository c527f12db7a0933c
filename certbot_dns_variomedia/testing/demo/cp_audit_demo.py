"""cp-audit on loopback, in one command: DNS, a STARTTLS gateway, a whitelabel HTTPS host and
the Control Panel simulator, all on 127.0.0.1, then the audit against them.

    python -m certbot_dns_variomedia.testing.demo.cp_audit_demo           # scenario "ok"
    python -m certbot_dns_variomedia.testing.demo.cp_audit_demo --scenario critical --json
    python -m certbot_dns_variomedia.testing.demo.cp_audit_demo --serve   # run cp-audit yourself

Scenarios: ``ok`` (a valid certificate), ``warning`` (it expires in 14 days), ``critical`` (it
expired 3 days ago). The exit status is cp-audit's. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ...controlpanel.cli import main as cp_audit
from ..acme.certs import CertificateAuthority, utcnow
from ..controlpanel.simulator import ControlPanelSimConfig, ControlPanelSimulator
from ..servers.dns import DNSServer, StaticZones
from ..servers.https import HTTPSServer
from ..servers.service import stop_signals
from ..servers.smtp import StartTLSServer

DOMAIN = "example.test"
MX = "mx1.example.test"
WHITELABEL = "cp.brand.test"
DAYS_LEFT = {"ok": 90.0, "warning": 14.0, "critical": -3.0}


def _zones() -> StaticZones:
    zones = StaticZones()
    zones.add_zone(DOMAIN)
    zones.add_zone("brand.test")
    zones.add(DOMAIN, "MX", f"10 {MX}")
    zones.add(MX, "A", "127.0.0.1")
    zones.add(WHITELABEL, "A", "127.0.0.1")
    return zones


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m certbot_dns_variomedia.testing.demo.cp_audit_demo",
        description="Run cp-audit against simulated servers on 127.0.0.1.",
    )
    parser.add_argument("--scenario", choices=sorted(DAYS_LEFT), default="ok")
    parser.add_argument("--json", action="store_true", help="pass --json to cp-audit")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="start the servers, print the cp-audit command, wait for Ctrl-C",
    )
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        # Before the servers start, so that a Ctrl-C at any time still stops them.
        stop = stack.enter_context(stop_signals()) if args.serve else None
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cp-audit-demo-")))
        ca = CertificateAuthority.create(workdir, name="cp-audit demo CA")
        gateway_cert = ca.issue(
            [MX], not_after=utcnow() + datetime.timedelta(days=DAYS_LEFT[args.scenario])
        )
        whitelabel_cert = ca.issue([WHITELABEL])
        dns = stack.enter_context(DNSServer(_zones()))
        smtp = stack.enter_context(
            StartTLSServer(
                certfile=str(gateway_cert.fullchain_path),
                keyfile=str(gateway_cert.key_path),
                hostname=MX,
            )
        )
        https = stack.enter_context(
            HTTPSServer(
                certfile=str(whitelabel_cert.fullchain_path), keyfile=str(whitelabel_cert.key_path)
            )
        )
        sim = stack.enter_context(
            ControlPanelSimulator(
                ControlPanelSimConfig(
                    domains=(DOMAIN,),
                    control_panel_host="127.0.0.1",
                    whitelabel_domain=WHITELABEL,
                )
            )
        )
        credentials = sim.write_credentials(workdir / "cp.ini")
        cp_argv = [
            "--domain",
            DOMAIN,
            "--credentials",
            str(credentials),
            "--dns-server",
            f"127.0.0.1:{dns.port}",
            "--smtp-port",
            str(smtp.port),
            "--https-port",
            str(https.port),
            "--ca-bundle",
            str(ca.cert_path),
            *(["--json"] if args.json else []),
        ]
        if stop is not None:
            print("Servers are running. In another terminal:", flush=True)
            print("  cp-audit " + shlex.join(cp_argv), flush=True)
            print("Ctrl-C stops them.", flush=True)
            stop.wait()
            return 0
        return cp_audit(cp_argv)


if __name__ == "__main__":
    sys.exit(main())
