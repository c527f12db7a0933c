"""cp-audit on loopback, in one command: DNS, STARTTLS gateways, HTTPS hosts and the Control
Panel simulator, all on 127.0.0.x, then the audit against them.

    python -m certbot_dns_variomedia.testing.demo.cp_audit_demo           # scenario "ok"
    python -m certbot_dns_variomedia.testing.demo.cp_audit_demo --scenario critical --json
    python -m certbot_dns_variomedia.testing.demo.cp_audit_demo --scenario sender-view
    python -m certbot_dns_variomedia.testing.demo.cp_audit_demo --serve   # run cp-audit yourself

Scenarios: ``ok`` (a valid certificate), ``warning`` (it expires in 14 days), ``critical`` (it
expired 3 days ago); ``sender-view`` (a finding of every check that judges the domain the way
sending servers do: DNSSEC behind DANE, DANE-TA, old TLS versions, the MTA-STS policy),
``mta-sts-broken`` (a policy senders cannot use), ``no-such-domain`` (exit 3). What each one
holds: ``cp_audit_lab``. The exit status is cp-audit's. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ...controlpanel.cli import main as cp_audit
from ..servers.service import stop_signals
from .cp_audit_lab import SCENARIOS, Lab


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m certbot_dns_variomedia.testing.demo.cp_audit_demo",
        description="Run cp-audit against simulated servers on 127.0.0.x.",
    )
    parser.add_argument("--scenario", choices=SCENARIOS, default="ok")
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
        cp_argv = Lab(args.scenario, workdir, stack).start()
        cp_argv += ["--json"] if args.json else []
        if stop is not None:
            print("Servers are running. In another terminal:", flush=True)
            print("  cp-audit " + shlex.join(cp_argv), flush=True)
            print("Ctrl-C stops them.", flush=True)
            stop.wait()
            return 0
        return cp_audit(cp_argv)


if __name__ == "__main__":
    sys.exit(main())
