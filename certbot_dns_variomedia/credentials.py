"""Credentials from an INI file (certbot's format and permission rules) or from the environment.

The plugin, the ``variomedia-dns`` command and ``cp-audit`` all read their secrets here, so a file
that works for one works for the others, and every one of them warns about the same unsafe
permissions and names the same fixes.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import configobj

from . import safe_files
from .errors import ConfigurationError

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.variomedia.de"
TOKEN_KEY = "dns_variomedia_token"  # noqa: S105 (a key name)
API_URL_KEY = "dns_variomedia_api_url"
ENV_TOKEN = "VARIOMEDIA_API_TOKEN"  # noqa: S105 (a variable name)
ENV_API_URL = "VARIOMEDIA_API_URL"

# Tokens are opaque, but they are always one printable word: anything else is a paste error
# (quotes, a trailing comment, a line break) that the API would only answer with a 401.
_TOKEN_RE = re.compile(r"^[\x21-\x7e]{8,512}$")


def check_permissions(path: Path) -> None:
    """Warn, in certbot's words, when others may read or write a secrets file. Whoever can
    write it can point the API URL at their own server and receive the token."""
    st = path.stat()
    if st.st_mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH):
        logger.warning(
            "Unsafe permissions on credentials configuration file: %s "
            "(readable by other users; run: chmod 600 %s)",
            path,
            path,
        )
    elif st.st_mode & stat.S_IWGRP:
        logger.warning(
            "Unsafe permissions on credentials configuration file: %s (writable by its group, "
            "who could send the secrets to a server of their choosing; run: chmod 600 %s)",
            path,
            path,
        )
    if not safe_files.trusted_owner(st.st_uid):
        logger.warning(
            "Unsafe owner of credentials configuration file: %s belongs to %s, who could send "
            "the secrets to a server of their choosing; run: chown %s %s",
            path,
            safe_files.user_name(st.st_uid),
            os.geteuid(),
            path,
        )


def _parse(p: Path, required: Mapping[str, str], what: str) -> configobj.ConfigObj:
    """The file's INI content, or an error that says how to fix the file."""
    try:
        if not p.exists():
            raise ConfigurationError(
                f"The {what} {p} does not exist. Create it with the keys "
                f"{', '.join(required)} and protect it with: chmod 600 {p}"
            )
        if p.is_dir():
            raise ConfigurationError(
                f"The {what} {p} is a directory; give the path of the INI file."
            )
        check_permissions(p)
        text = p.read_text(encoding="utf-8")
    except PermissionError as e:
        raise ConfigurationError(
            f"The {what} {p} cannot be read by this user ({e.strerror}); "
            "run as the user that owns it, or fix its owner."
        ) from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"The {what} {p} is not UTF-8 text.") from None
    try:
        parsed = configobj.ConfigObj(text.splitlines(), interpolation=False)
    except configobj.ConfigObjError as e:
        # Only the line number: configobj's own message quotes the line, which may hold a secret.
        line = getattr(e, "line_number", None)
        raise ConfigurationError(
            f"The {what} {p} is not a valid INI file (line {line or '?'} cannot be read); "
            "each line should read: key = value"
        ) from None
    return parsed


def read_ini(
    path: str | os.PathLike[str],
    *,
    required: Mapping[str, str],
    optional: Iterable[str] = (),
    what: str = "credentials file",
) -> dict[str, str]:
    """Read ``key = value`` pairs, insisting on the required keys and catching misspelt ones.

    ``required`` maps each key to what it should hold, for the error message. A key that is
    neither required nor optional but looks like one of them is an error (a typo would
    otherwise silently drop a setting); any other unknown key is ignored with a warning.
    """
    p = Path(path).expanduser()
    parsed = _parse(p, required, what)

    known = [*required, *optional]
    values: dict[str, str] = {}
    for key, value in parsed.items():
        if not isinstance(value, str):
            raise ConfigurationError(
                f"The {what} {p} has a [section] or a list at {key!r}; "
                "use plain 'key = value' lines."
            )
        if key in known:
            values[key] = value.strip()
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if close:
            raise ConfigurationError(
                f"Unknown key {key!r} in the {what} {p}: did you mean {close[0]!r}?"
            )
        logger.warning("Ignoring unknown key %r in the %s %s", key, what, p)

    problems = []
    for key, meaning in required.items():
        if key not in values:
            problems.append(f"{key} is missing (it should be {meaning})")
        elif not values[key]:
            problems.append(f"{key} is empty (it should be {meaning})")
    if problems:
        raise ConfigurationError(f"In the {what} {p}: " + "; ".join(problems) + ".")
    return values


@dataclass(frozen=True)
class VariomediaCredentials:
    """An API token and URL, and where they came from (for messages that name the fix)."""

    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    # Where the user fixes a refused token, e.g. "dns_variomedia_token in /etc/x.ini".
    source: str = "the credentials file"

    def __repr__(self) -> str:
        return f"VariomediaCredentials(api_url={self.api_url!r}, source={self.source!r})"


def account_key(api_url: str, token: str) -> str:
    """Which account a state entry belongs to, without storing the token (a truncated hash)."""
    return hashlib.sha256(f"{api_url.rstrip('/')}\0{token}".encode()).hexdigest()[:16]


def _check_token(token: str, where: str) -> str:
    if not _TOKEN_RE.match(token):
        raise ConfigurationError(
            f"The API token in {where} is malformed: it should be one word of printable "
            "characters without spaces or quotes, exactly as Variomedia issued it."
        )
    return token


def load_variomedia_credentials(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> VariomediaCredentials:
    """The file when a path is given, else ``VARIOMEDIA_API_TOKEN`` / ``VARIOMEDIA_API_URL``."""
    if path is not None:
        p = Path(path).expanduser().absolute()
        values = read_ini(
            p,
            required={TOKEN_KEY: "the API token Variomedia issued for your account"},
            optional=[API_URL_KEY],
        )
        where = f"{TOKEN_KEY} in {p}"
        return VariomediaCredentials(
            token=_check_token(values[TOKEN_KEY], where),
            api_url=values.get(API_URL_KEY) or DEFAULT_API_URL,
            source=where,
        )
    env = os.environ if environ is None else environ
    token = env.get(ENV_TOKEN, "").strip()
    if not token:
        raise ConfigurationError(
            f"No credentials: give --credentials FILE (an INI file with {TOKEN_KEY} = ...) "
            f"or set the environment variable {ENV_TOKEN}."
        )
    return VariomediaCredentials(
        token=_check_token(token, f"the environment variable {ENV_TOKEN}"),
        api_url=env.get(ENV_API_URL, "").strip() or DEFAULT_API_URL,
        source=f"the environment variable {ENV_TOKEN}",
    )
