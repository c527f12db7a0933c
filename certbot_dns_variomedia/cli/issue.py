"""``variomedia-dns issue``: a certificate into a directory, without certbot.

A thin front door to `issue.obtain_certificate`: it keeps the ACME account key (one per CA,
see `paths.default_account_key`, or ``--account-key FILE``) and writes the files with
`certfiles.write_certificate_files` only once the certificate is in hand, so a failed order
leaves ``--out`` exactly as it was.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..acme_trust import check_directory_url
from ..issue import (
    DEFAULT_ACME_TIMEOUT,
    LETSENCRYPT_PRODUCTION,
    LETSENCRYPT_STAGING,
    obtain_certificate,
)
from ..issuing.keys import CURVES, RSA_KEY_SIZES
from ..issuing.persist_plan import CHOICES
from ..names import to_unicode
from ..paths import default_account_key
from .certfiles import load_or_create_account_key, write_certificate_files
from .options import (
    UsageError,
    add_challenge_options,
    add_credentials_option,
    add_domains_option,
    add_json_option,
    add_nameservers_option,
    add_state_file_option,
    challenge_settings,
    domain_list,
    load_credentials,
    nameservers,
    optional_credentials,
    seconds_value,
    state_file,
)
from .output import print_json, progress, say

logger = logging.getLogger(__name__)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as e:
        raise UsageError(f"The {what} {path} cannot be read ({e.strerror}).") from None


def cmd_issue(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory.")
    domains = domain_list(args.domains or [])
    csr = _read(args.csr, "CSR") if args.csr else None
    if not domains and csr is None:
        raise UsageError("Give the certificate's names (-d example.de -d '*.example.de').")
    server = LETSENCRYPT_STAGING if args.staging else args.server
    servers = nameservers(args)
    credentials = (
        load_credentials(args) if args.challenge == "dns-01" else optional_credentials(args)
    )
    check_directory_url(server)  # before an account key is made for it
    key_path = Path(args.account_key).expanduser() if args.account_key else None
    account_key = load_or_create_account_key(key_path or default_account_key(server))
    certificate = obtain_certificate(
        domains,
        credentials=credentials,
        challenge=args.challenge,
        issuer=args.issuer,
        directory_url=server,
        account_key=account_key,
        email=args.email,
        agree_tos=args.agree_tos,
        key_type=args.key_type,
        rsa_key_size=args.rsa_key_size,
        elliptic_curve=args.elliptic_curve,
        csr_pem=csr,
        ca_bundle=args.ca_bundle,
        state_file=state_file(args),
        settings=challenge_settings(args, servers),
        acme_timeout=args.acme_timeout,
        notify=progress,
    )
    files = write_certificate_files(certificate, out)
    if certificate.private_key_pem is None and (out / "privkey.pem").exists():
        logger.warning(
            "%s is from an earlier certificate and does not belong to this one (made from "
            "--csr, whose key you keep); remove it so that nothing loads the wrong key.",
            out / "privkey.pem",
        )
    if args.json:
        print_json(
            {
                "names": list(certificate.names),
                "not_after": certificate.not_after.isoformat(),
                "files": {name: str(path) for name, path in files.items()},
            }
        )
        return 0
    say(f"Certificate for {', '.join(map(to_unicode, certificate.names))}")
    say(f"valid until {certificate.not_after:%Y-%m-%d %H:%M} UTC, written to {out}:")
    for name, path in files.items():
        say(f"  {name:<14} {path}")
    return 0


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = subparsers.add_parser(
        "issue",
        parents=[common],
        help="obtain a certificate without certbot and write it to a directory",
        description="Run one ACME order and write privkey.pem (0600), cert.pem, chain.pem and "
        "fullchain.pem to --out. Files are replaced only once the new certificate is complete. "
        "Default CA: Let's Encrypt; default challenge: dns-01 through the Variomedia API.",
    )
    add_domains_option(parser, "a name for the certificate; repeat, or separate with commas")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the files go")
    parser.add_argument(
        "--challenge",
        choices=CHOICES,
        default="dns-01",
        help="dns-01: records written at Variomedia for this order (default); dns-persist-01: "
        "the standing _validation-persist record (set first if missing and credentials are "
        "given; no token needed when it stands); auto: dns-persist-01 where such a record "
        "stands, dns-01 elsewhere",
    )
    parser.add_argument(
        "--issuer",
        metavar="NAME",
        help="dns-persist-01: the CA's issuer domain name records name (default: the CA "
        "directory's caaIdentities)",
    )
    ca = parser.add_mutually_exclusive_group()
    ca.add_argument(
        "--server",
        default=LETSENCRYPT_PRODUCTION,
        metavar="URL",
        help=f"ACME directory URL (default: Let's Encrypt, {LETSENCRYPT_PRODUCTION})",
    )
    ca.add_argument(
        "--staging", action="store_true", help=f"Let's Encrypt's staging CA ({LETSENCRYPT_STAGING})"
    )
    parser.add_argument("--email", help="contact address for the ACME account (optional)")
    parser.add_argument(
        "--agree-tos",
        action="store_true",
        help="agree to the CA's terms of service (needed once, when the account is created)",
    )
    parser.add_argument(
        "--account-key",
        metavar="FILE",
        help="the ACME account's private key (PEM), created there if missing (default: one key "
        "per CA under $VARIOMEDIA_DNS_ACCOUNT_DIR, else /etc/variomedia-dns/accounts/ for root, "
        "else $XDG_CONFIG_HOME/variomedia-dns/accounts/)",
    )
    parser.add_argument("--key-type", choices=("ecdsa", "rsa"), default="ecdsa")
    parser.add_argument("--rsa-key-size", type=int, choices=RSA_KEY_SIZES, default=2048)
    parser.add_argument("--elliptic-curve", choices=tuple(CURVES), default="secp256r1")
    parser.add_argument(
        "--csr", metavar="FILE", help="finalize with this CSR (PEM) instead of a new key"
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="verify the ACME server's HTTPS with this PEM bundle (test CAs); "
        "$REQUESTS_CA_BUNDLE works too",
    )
    parser.add_argument(
        "--acme-timeout",
        type=seconds_value,
        default=DEFAULT_ACME_TIMEOUT,
        metavar="SECONDS",
        help=f"how long the CA may take to validate and to issue (default: "
        f"{DEFAULT_ACME_TIMEOUT:g})",
    )
    add_credentials_option(parser)
    add_state_file_option(parser)
    add_nameservers_option(parser)
    add_challenge_options(parser)
    add_json_option(parser)
    parser.set_defaults(func=cmd_issue)
