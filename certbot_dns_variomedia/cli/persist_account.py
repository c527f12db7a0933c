"""Which ACME account, at which CA, and for which names a ``variomedia-dns persist`` command
speaks.

A dns-persist-01 record names the account by the URL its CA gave it, and the CA by an issuer
domain name. The account comes from one of:

* ``--account-uri URL``, as given (no request at all);
* ``--server URL --certbot``: certbot's saved account for that CA
  (``accounts/<host><path>/<id>/regr.json`` under certbot's config directory), so the record
  is ready for the certbot releases that add the challenge;
* ``--server URL``: the account of ``issue``'s key for that CA, asked of the CA.

The issuer domain name is ``--issuer``, else the CA directory's ``caaIdentities``.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from acme import errors as acme_errors
from josepy.errors import DeserializationError

from ..core.persist import MalformedRecord, normalize_issuer
from ..errors import ConfigurationError
from ..issue import DEFAULT_ACME_TIMEOUT, LETSENCRYPT_STAGING, CertificateError
from ..issuing.keys import generate_key, key_to_pem
from ..issuing.session import Session, change_key, explain, open_session, register
from ..paths import default_account_key
from .certfiles import PRIVATE_MODE, load_or_create_account_key
from .fileset import write_file
from .options import UsageError, domain_list
from .output import print_json, say

CERTBOT_CONFIG_DIR = Path("/etc/letsencrypt")


@dataclass(frozen=True)
class Authority:
    """The account and the CA a record speaks for."""

    account_uri: str
    issuers: tuple[str, ...]  # normalised; a record is written with the first

    @property
    def issuer(self) -> str:
        return self.issuers[0]


def record_names(args: argparse.Namespace) -> list[str]:
    """The names of ``-d``, which every persist action needs."""
    names = domain_list(args.domains or [])
    if not names:
        raise UsageError("Give the names the record is for (-d example.de -d '*.example.de').")
    return names


def add_key_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--server/--staging, issue's --account-key and --ca-bundle: a CA and a key there."""
    group = parser.add_argument_group("account and CA")
    ca = group.add_mutually_exclusive_group()
    ca.add_argument(
        "--server", metavar="URL", help="the CA's ACME directory URL (its account, its issuer)"
    )
    ca.add_argument(
        "--staging", action="store_true", help=f"Let's Encrypt's staging CA ({LETSENCRYPT_STAGING})"
    )
    group.add_argument(
        "--account-key",
        metavar="FILE",
        help="with --server: the account key of 'variomedia-dns issue' (default: its default "
        "key for that CA)",
    )
    group.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="verify the CA's HTTPS with this PEM bundle (test CAs)",
    )
    parser.set_defaults(account_uri=None, certbot=False)
    return group


def add_account_options(parser: argparse.ArgumentParser, *, create: bool) -> None:
    """The options that name the account and the CA (see the module's docstring)."""
    group = add_key_options(parser)
    group.add_argument(
        "--account-uri",
        metavar="URL",
        help="the account's URL as the CA gave it; no request to the CA (needs --issuer, or "
        "--server for its caaIdentities)",
    )
    group.add_argument(
        "--certbot",
        action="store_true",
        help="with --server: certbot's saved account for that CA instead of issue's",
    )
    group.add_argument(
        "--certbot-config-dir",
        metavar="DIR",
        default=str(CERTBOT_CONFIG_DIR),
        help=f"certbot's config directory (default: {CERTBOT_CONFIG_DIR})",
    )
    group.add_argument(
        "--issuer",
        metavar="NAME",
        help="the CA's issuer domain name, e.g. letsencrypt.org (default: the directory's "
        "caaIdentities)",
    )
    if create:
        group.add_argument(
            "--agree-tos",
            action="store_true",
            help="create the account of --server's key if it has none yet, agreeing to the "
            "CA's terms of service",
        )
        group.add_argument("--email", help="contact address of a new account (optional)")


def certbot_account_uri(config_dir: Path, server: str) -> str:
    """The URL of certbot's one saved account for `server`; errors say what is there instead."""
    parts = urlsplit(server)
    accounts = config_dir / "accounts" / (parts.netloc + parts.path)
    try:
        found = sorted(p for p in accounts.iterdir() if (p / "regr.json").is_file())
    except OSError as e:
        raise ConfigurationError(
            f"certbot has no account for {server} under {config_dir} ({accounts}: "
            f"{e.strerror}); register one (certbot register --server {server}), or give "
            "--certbot-config-dir."
        ) from None
    if len(found) != 1:
        ids = ", ".join(p.name for p in found) or "none"
        raise ConfigurationError(
            f"certbot keeps {len(found)} accounts for {server} in {accounts} ({ids}); give the "
            "one certbot uses with --account-uri (its URL is the 'uri' in its regr.json)."
        )
    regr = found[0] / "regr.json"
    try:
        uri = json.loads(regr.read_text(encoding="utf-8")).get("uri")
    except (OSError, ValueError, AttributeError) as e:
        raise ConfigurationError(f"certbot's account file {regr} cannot be read ({e}).") from None
    if not isinstance(uri, str) or not uri:
        raise ConfigurationError(f"certbot's account file {regr} names no account URL ('uri').")
    return uri


def _server(args: argparse.Namespace) -> str | None:
    return LETSENCRYPT_STAGING if args.staging else args.server


def _issuers(args: argparse.Namespace, session: Session | None) -> tuple[str, ...]:
    try:
        if args.issuer:
            return (normalize_issuer(args.issuer),)
        if session is not None and session.caa_identities:
            return tuple(normalize_issuer(i) for i in session.caa_identities)
    except MalformedRecord as e:
        raise UsageError(f"--issuer: {e}.") from None
    where = f"the directory of {session.directory_url} lists no caaIdentities" if session else ""
    raise UsageError(
        f"Which CA? {where + '; ' if where else ''}give its issuer domain name with --issuer "
        "NAME (e.g. letsencrypt.org), or --server URL."
    )


def _check_combination(args: argparse.Namespace, server: str | None) -> None:
    if args.account_uri and (args.certbot or args.account_key):
        raise UsageError("--account-uri names the account already: drop --certbot/--account-key.")
    if not args.account_uri and server is None:
        raise UsageError(
            "Which account? Give --server URL (issue's account, or certbot's with --certbot), "
            "or --account-uri URL with --issuer NAME."
        )
    if args.certbot and args.account_key:
        raise UsageError("--certbot reads certbot's account; --account-key is issue's: give one.")


def _signing_key(args: argparse.Namespace, server: str, *, create: bool) -> bytes:
    """issue's account key for `server`; a throwaway key when only the directory is read."""
    if args.account_uri or args.certbot:
        return key_to_pem(generate_key("ecdsa"))
    path = Path(args.account_key).expanduser() if args.account_key else None
    path = path or default_account_key(server)
    if not create and not path.exists():
        raise ConfigurationError(
            f"There is no account key at {path} yet: 'variomedia-dns issue' or "
            "'persist show --agree-tos' creates it."
        )
    return load_or_create_account_key(path)


def resolve(args: argparse.Namespace, *, create: bool) -> Authority:
    """The account and the CA the options name; asks the CA only when it must."""
    server = _server(args)
    _check_combination(args, server)
    if server is None or (args.account_uri and args.issuer):
        return Authority(args.account_uri, _issuers(args, None))
    session = None
    try:
        session = open_session(
            server, _signing_key(args, server, create=create), ca_bundle=args.ca_bundle
        )
        if args.account_uri:
            uri = args.account_uri
        elif args.certbot:
            uri = certbot_account_uri(Path(args.certbot_config_dir).expanduser(), server)
        else:
            register(
                session.acme,
                email=getattr(args, "email", None),
                agree_tos=getattr(args, "agree_tos", False),
                create=create,
            )
            uri = session.account_uri
        return Authority(uri, _issuers(args, session))
    except (acme_errors.Error, requests.RequestException, DeserializationError) as e:
        raise CertificateError(explain(e, server, DEFAULT_ACME_TIMEOUT)) from None
    finally:
        if session is not None:
            session.close()


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """A new key for issue's account at --server; the account URL, and so every record that
    names it, stays. The new key is on disk before the CA is asked, and takes the old key's
    place only once the CA has accepted it."""
    server = _server(args)
    if server is None or args.account_uri or args.certbot:
        raise UsageError(
            "rotate-key replaces the key of issue's account at a CA: give --server URL (and "
            "--account-key FILE if it is not the default); certbot has no key rollover."
        )
    path = Path(args.account_key).expanduser() if args.account_key else default_account_key(server)
    if not path.exists():
        raise ConfigurationError(f"There is no account key at {path}; nothing to rotate.")
    new_key = key_to_pem(generate_key("ecdsa"))
    pending = path.with_name(path.name + ".new")
    write_file(pending, new_key, PRIVATE_MODE)
    session = None
    try:
        session = open_session(server, load_or_create_account_key(path), ca_bundle=args.ca_bundle)
        register(session.acme, email=None, agree_tos=False, create=False)
        uri = session.account_uri
        change_key(session, new_key)
    except BaseException as e:
        pending.unlink(missing_ok=True)  # the CA still knows the old key only
        if isinstance(e, (acme_errors.Error, requests.RequestException, DeserializationError)):
            raise CertificateError(explain(e, server, DEFAULT_ACME_TIMEOUT)) from None
        raise
    finally:
        if session is not None:
            session.close()
    os.replace(pending, path)
    if args.json:
        print_json({"account_uri": uri, "account_key": str(path)})
        return 0
    say(f"The account {uri} now signs with a new key, in {path}.")
    say("Its URL is the same, so its dns-persist-01 records stand as they are; the CA no longer")
    say("accepts the old key.")
    return 0
