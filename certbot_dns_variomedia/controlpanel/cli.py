"""``cp-audit``: the mail-gateway certificate audit on the command line.

Exit status: 0 all fine, 1 a warning, 2 something critical (the reasons are listed), 3 the
audit could not run as asked (bad options, unreadable or refused credentials, a domain the
Control Panel does not know). 3 rather than argparse's usual 2, because 2 means "critical" here
and monitoring must not mistake a typo for a dying gateway.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..dnssec import TrustAnchors, parse_trust_anchors
from ..errors import ConfigurationError, VariomediaError
from ..resolver import Resolver, normalize_name, parse_nameservers
from .audit import AuditSettings, run_audit
from .credentials import ControlPanelCredentials, load_controlpanel_credentials
from .errors import ControlPanelError
from .mtasts import PolicySeen, policy_seen
from .nagios import render_nagios
from .prometheus import audit_metrics, check_writable, failed_metrics, write_atomically
from .report import to_json
from .report_text import render_text
from .results import Thresholds
from .transport import DEFAULT_RATE
from .verdict import judge

EXIT_UNUSABLE = 3

logger = logging.getLogger("cp-audit")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNUSABLE, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _not_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"must be a port number (1-65535), not {text}")
    return value


def _percent(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a percentage (0-100), not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cp-audit",
        description=(
            "Audit the certificates of a domain's mail gateways (STARTTLS on port 25), the "
            "Control Panel's HTTPS hosts, DANE/MTA-STS/TLS-RPT, and the mail flow the Control "
            "Panel saw. Exit status: 0 fine, 1 warning, 2 critical, 3 could not run."
        ),
        epilog="Documentation: docs/cp-audit.md (the --json schema and every rule).",
    )
    parser.add_argument("--domain", required=True, help="the mail domain to audit")
    parser.add_argument(
        "--days",
        type=_positive,
        default=7.0,
        metavar="N",
        help="mail-flow period in days (default: 7)",
    )
    parser.add_argument(
        "--warn-days",
        type=_not_negative,
        metavar="N",
        default=21.0,
        help="warn when a certificate expires within this many days (default: 21)",
    )
    parser.add_argument(
        "--crit-days",
        type=_not_negative,
        metavar="N",
        default=7.0,
        help="critical when a certificate expires within this many days (default: 7)",
    )
    parser.add_argument(
        "--warn-unencrypted",
        type=_percent,
        metavar="PERCENT",
        help="warn when more than PERCENT of the e-mails travelled without encryption",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the cp-audit/1 JSON document")
    output.add_argument(
        "--nagios",
        action="store_true",
        help="print a Nagios/Icinga plugin status line with performance data, then the report",
    )
    parser.add_argument(
        "--prometheus",
        metavar="FILE",
        help="also write the figures in the Prometheus text format to FILE (atomically; for "
        "node_exporter's textfile collector)",
    )
    parser.add_argument(
        "--previous-report",
        metavar="FILE",
        help="an earlier --json document: warn when the MTA-STS policy changed but its id did not",
    )
    parser.add_argument(
        "--credentials",
        metavar="FILE",
        help="Control Panel credentials INI file (default: the CP_* environment variables)",
    )
    parser.add_argument(
        "--no-control-panel",
        action="store_true",
        help="check certificates and DNS only; no credentials needed, no mail flow",
    )
    parser.add_argument(
        "--cp-rate",
        type=_positive,
        metavar="N",
        default=DEFAULT_RATE,
        help=f"send at most N requests per second to the Control Panel (default: {DEFAULT_RATE:g})",
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        metavar="SECONDS",
        default=10.0,
        help="seconds for each connection and lookup (default: 10)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress (-vv: debug)"
    )
    loopback = parser.add_argument_group(
        "test and loopback options",
        "Point the audit at servers other than the real ones: simulators on 127.0.0.1, or a "
        "private CA. Not needed against the real Control Panel.",
    )
    loopback.add_argument(
        "--dns-server",
        action="append",
        metavar="HOST[:PORT]",
        help="ask these DNS servers instead of the system's (repeatable, or comma-separated)",
    )
    loopback.add_argument(
        "--smtp-port",
        type=_port,
        default=25,
        metavar="PORT",
        help="port of the gateways (default: 25)",
    )
    loopback.add_argument(
        "--https-port",
        type=_port,
        metavar="PORT",
        default=443,
        help="port of the whitelabel and MTA-STS policy hosts (default: 443; the Control "
        "Panel's is in its URL)",
    )
    loopback.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="trust only the CAs in this PEM file (default: the system's roots)",
    )
    loopback.add_argument(
        "--dnssec-anchors",
        metavar="FILE",
        help="start DNSSEC validation from the DS or DNSKEY records in this file instead of "
        "the IANA root keys (e.g. for a test zone)",
    )
    loopback.add_argument(
        "--cp-url",
        metavar="URL",
        help="Control Panel API URL, overriding cp_url/cp_domain (http only to loopback)",
    )
    return parser


def _settings(args: argparse.Namespace) -> AuditSettings:
    if args.crit_days > args.warn_days:
        raise ConfigurationError(
            f"--crit-days {args.crit_days:g} is more than --warn-days {args.warn_days:g}; "
            "the critical limit must be the nearer one"
        )
    return AuditSettings(
        domain=normalize_name(args.domain),
        days=args.days,
        thresholds=Thresholds(
            warn_days=args.warn_days,
            crit_days=args.crit_days,
            warn_unencrypted_percent=args.warn_unencrypted,
        ),
        smtp_port=args.smtp_port,
        https_port=args.https_port,
        ca_bundle=args.ca_bundle,
        timeout=args.timeout,
        cp_rate=args.cp_rate,
        trust_anchors=_trust_anchors(args.dnssec_anchors),
        previous_mta_sts=_previous(args.previous_report),
    )


def _previous(path: str | None) -> PolicySeen | None:
    if path is None:
        return None
    try:
        return policy_seen(json.loads(Path(path).read_text(encoding="utf-8")), path)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigurationError(
            f"Cannot use {path} as --previous-report ({error}); give a file an earlier "
            "'cp-audit --json' wrote, or leave the option out."
        ) from None


def _trust_anchors(path: str | None) -> TrustAnchors | None:
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"Cannot read the trust anchors in {path} ({error}); give a file of DS or DNSKEY "
            "records with --dnssec-anchors, or leave the option out to use the root's keys."
        ) from None
    return parse_trust_anchors(text, path)


def _resolver(args: argparse.Namespace) -> Resolver:
    timeout = min(args.timeout, 5.0)
    if not args.dns_server:
        return Resolver(timeout=timeout)
    servers = parse_nameservers(",".join(args.dns_server), option="--dns-server")
    return Resolver(bootstrap=servers, timeout=timeout)


def _credentials(args: argparse.Namespace) -> ControlPanelCredentials | None:
    if args.no_control_panel:
        return None
    try:
        return load_controlpanel_credentials(args.credentials, base_url=args.cp_url)
    except ConfigurationError as error:
        if args.credentials is None:
            raise ConfigurationError(
                f"{error} Or run with --no-control-panel to check certificates only."
            ) from None
        raise


def _logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="cp-audit: %(levelname)s: %(message)s")


def _unusable(message: str, args: argparse.Namespace) -> int:
    """Say why the audit could not run; tell Prometheus too, so an alert can see it."""
    print(message, file=sys.stderr)
    if args.prometheus:
        with contextlib.suppress(OSError):
            domain = args.domain.strip().rstrip(".").lower()
            write_atomically(args.prometheus, failed_metrics(domain, time.time()))
    return EXIT_UNUSABLE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the audit; the return value is the exit status."""
    args = build_parser().parse_args(argv)
    _logging(args.verbose)
    try:
        if args.prometheus:
            check_writable(args.prometheus)
        settings = _settings(args)
        credentials = _credentials(args)
        resolver = _resolver(args)
        result = run_audit(settings, dns=resolver, credentials=credentials)
    except ControlPanelError as error:
        return _unusable(f"cp-audit: {error}", args)
    except VariomediaError as error:
        return _unusable(f"cp-audit: error: {error}", args)
    except KeyboardInterrupt:
        print("cp-audit: interrupted", file=sys.stderr)
        return 130
    verdict = judge(result)
    if args.json:
        json.dump(to_json(result, verdict), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.nagios:
        sys.stdout.write(render_nagios(result, verdict))
    else:
        sys.stdout.write(render_text(result, verdict))
    if args.prometheus:
        try:
            write_atomically(args.prometheus, audit_metrics(result, verdict))
        except OSError as error:
            print(f"cp-audit: error: cannot write {args.prometheus}: {error}", file=sys.stderr)
            return EXIT_UNUSABLE
    return verdict.status


if __name__ == "__main__":
    sys.exit(main())
