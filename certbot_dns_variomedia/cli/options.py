"""The options ``variomedia-dns`` subcommands share, and the core objects built from them.

Every subcommand that talks to Variomedia builds its client, resolver, state file and settings
here, the same way the certbot plugin does, so a setting means the same thing behind every
front door. Bad option values are `UsageError` (exit status 2) and are found before anything is
sent.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from ..api.models import MAX_TTL, MIN_TTL, is_record_id
from ..core.settings import Settings
from ..core.state import StateFile
from ..credentials import ENV_API_URL, ENV_TOKEN, VariomediaCredentials, load_variomedia_credentials
from ..errors import ConfigurationError
from ..paths import ENV_STATE_FILE, state_file_path
from .usage import UsageError as UsageError  # noqa: PLC0414 - re-exported: subcommands import it here

if TYPE_CHECKING:
    from ..nameservers import NameServer

# Variomedia's limits for a record's TTL (the plugin's --dns-variomedia-ttl has the same).


# -- value types for argparse (their errors become "usage: ... error: ..." and exit status 2) --


def ttl_value(text: str) -> int:
    try:
        ttl = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise argparse.ArgumentTypeError(
            f"{ttl} is outside Variomedia's limits: give {MIN_TTL} to {MAX_TTL} seconds"
        )
    return ttl


def _non_negative(text: str, unit: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or more {unit}")
    return number


def seconds_value(text: str) -> float:
    return _non_negative(text, "seconds")


def days_value(text: str) -> float:
    return _non_negative(text, "days")


def domain_list(values: list[str]) -> list[str]:
    """-d a -d b and -d a,b, as certbot takes them."""
    return [d.strip() for value in values for d in value.split(",") if d.strip()]


def record_id_value(text: str) -> str:
    if not is_record_id(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a record id (letters, digits, '-' and '_'; "
            "'variomedia-dns records list' shows them)"
        )
    return text


# -- option groups -----------------------------------------------------------------------------


def common_options() -> argparse.ArgumentParser:
    """-v/-q, accepted by every subcommand (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", action="count", default=0, help="show debug output on stderr"
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="show only warnings and errors on stderr"
    )
    return parent


def add_credentials_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--credentials",
        metavar="FILE",
        help="INI file with dns_variomedia_token (and optionally dns_variomedia_api_url), the "
        f"same file the certbot plugin reads; without it: ${ENV_TOKEN} (and ${ENV_API_URL})",
    )


def add_state_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-file",
        metavar="FILE",
        help="where ids of challenge records are kept until they are removed (default: "
        f"${ENV_STATE_FILE}, else /var/lib/variomedia-dns/state.json for root, else "
        "$XDG_STATE_HOME/variomedia-dns/state.json, i.e. ~/.local/state/...)",
    )


def add_nameservers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nameservers",
        metavar="HOST[:PORT],...",
        help="name servers to ask instead of the zone's authoritative ones, and for every other "
        "DNS lookup (split-horizon DNS, tests). Default: found from the zone's NS records",
    )


def add_domains_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """-d NAME, repeatable and comma-separated as certbot takes it (read with `domain_list`)."""
    parser.add_argument(
        "-d", "--domain", dest="domains", action="append", metavar="NAME", help=help_text
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout (for scripts)"
    )


def add_challenge_options(parser: argparse.ArgumentParser) -> None:
    """The settings of challenge records, with the plugin's defaults."""
    parser.add_argument(
        "--ttl",
        type=ttl_value,
        default=Settings.ttl,
        help=f"TTL of the TXT records, {MIN_TTL}-{MAX_TTL} s (default: {Settings.ttl})",
    )
    parser.add_argument(
        "--propagation-seconds",
        type=seconds_value,
        default=Settings.propagation_timeout,
        metavar="SECONDS",
        help="the longest wait until every authoritative name server shows the records; the "
        f"wait ends as soon as they all do (default: {Settings.propagation_timeout:g})",
    )
    parser.add_argument(
        "--update-lock",
        choices=("on", "off"),
        default="on",
        help="'on': switch the domain's DNS update lock on before writing, so that Variomedia's "
        "automatic changes cannot reset the zone; 'off': leave it alone (default: on)",
    )


# -- objects built from the options --------------------------------------------------------------


def load_credentials(args: argparse.Namespace) -> VariomediaCredentials:
    """The file of --credentials, else the environment (errors say which and how to fix)."""
    path = getattr(args, "credentials", None)
    return load_variomedia_credentials(os.path.abspath(os.path.expanduser(path)) if path else None)


def optional_credentials(args: argparse.Namespace) -> VariomediaCredentials | None:
    """Like `load_credentials`, but None when neither --credentials nor the variable is given
    (dns-persist-01 with its records standing needs no token)."""
    if getattr(args, "credentials", None) or os.environ.get(ENV_TOKEN, "").strip():
        return load_credentials(args)
    return None


def nameservers(args: argparse.Namespace) -> tuple[NameServer, ...] | None:
    spec = getattr(args, "nameservers", None)
    if not spec:
        return None
    # Here, not at the top: a hook call that only notes its challenge must not load dnspython.
    from ..resolver import parse_nameservers  # noqa: PLC0415

    try:
        return tuple(parse_nameservers(spec, option="--nameservers"))
    except ConfigurationError as e:
        raise UsageError(str(e)) from None


def challenge_settings(
    args: argparse.Namespace, servers: tuple[NameServer, ...] | None
) -> Settings:
    return Settings(
        ttl=args.ttl,
        propagation_timeout=args.propagation_seconds,
        update_lock=args.update_lock == "on",
        nameservers=servers,
        nameservers_option="--nameservers",
        timeout_option="--propagation-seconds",
    )


def state_file(args: argparse.Namespace) -> StateFile:
    return StateFile(state_file_path(getattr(args, "state_file", None)))
