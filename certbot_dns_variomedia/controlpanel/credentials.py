"""Control Panel credentials from an INI file or the environment, never from the command line.

The file is read by the project's shared loader (``credentials.read_ini``), so it gets the same
permission warning and typo detection as the plugin's file. Each INI key has an environment
variable of the same name in upper case (``cp_token`` ↔ ``CP_TOKEN``).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..credentials import read_ini
from ..errors import ConfigurationError
from ..http_util import is_loopback_host

URL_KEY = "cp_url"
DOMAIN_KEY = "cp_domain"
APP_ID_KEY = "cp_app_id"
APP_VERSION_KEY = "cp_app_version"
TOKEN_KEY = "cp_token"  # noqa: S105 (a key name)
USERNAME_KEY = "cp_username"
PASSWORD_KEY = "cp_password"  # noqa: S105 (a key name)

REQUIRED = {
    APP_ID_KEY: "the App ID your Control Panel provider issued",
    APP_VERSION_KEY: "the version of your registered app, e.g. 1.0.0.0",
    TOKEN_KEY: "the API token created under user settings > API Token",
    USERNAME_KEY: "the e-mail address you log in to the Control Panel with",
    PASSWORD_KEY: "the password of that login",
}
OPTIONAL = (URL_KEY, DOMAIN_KEY)
KEYS = (*REQUIRED, *OPTIONAL)


def env_name(key: str) -> str:
    """The environment variable that stands in for an INI key."""
    return key.upper()


def base_url_for_domain(cp_domain: str) -> str:
    """``example.com`` → ``https://cp.example.com/api/v0/`` (the documented address)."""
    domain = cp_domain.strip().rstrip(".").lower()
    if not domain or "/" in domain or ":" in domain or " " in domain:
        raise ConfigurationError(
            f"cp_domain {cp_domain!r} is not a domain name; give e.g. cp_domain = example.com "
            "(the Control Panel is then https://cp.example.com/), or cp_url with the full URL."
        )
    return f"https://cp.{domain}/api/v0/"


def normalize_base_url(url: str) -> str:
    """Check a Control Panel base URL and end it with ``/`` (relative paths are joined to it).

    Plain ``http`` is refused except to loopback (the simulator): the requests carry a password
    and session tokens.
    """
    parts = urllib.parse.urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(
            f"The Control Panel URL {url!r} is not an http(s) URL; "
            "give e.g. https://cp.example.com/api/v0/"
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"The Control Panel URL {url!r} uses plain http; use https "
            "(plain http is only allowed to a loopback address, for the simulator)."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(
            f"The Control Panel URL {parts.scheme}://{host}... has a query, fragment or user "
            "part; give only scheme, host, port and path, e.g. https://cp.example.com/api/v0/"
        )
    path = parts.path or "/api/v0/"
    if not path.endswith("/"):
        path += "/"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True)
class ControlPanelCredentials:
    """Everything needed to log in, and where it came from (for messages that name the fix)."""

    base_url: str
    app_id: str
    app_version: str
    cp_token: str = field(repr=False)
    username: str
    password: str = field(repr=False)
    source: str = "the credentials file"

    @property
    def host(self) -> str:
        """The Control Panel's host name (whose HTTPS certificate the audit checks)."""
        return urllib.parse.urlsplit(self.base_url).hostname or ""

    def __repr__(self) -> str:
        return (
            f"ControlPanelCredentials(base_url={self.base_url!r}, app_id={self.app_id!r}, "
            f"app_version={self.app_version!r}, username={self.username!r}, "
            f"source={self.source!r})"
        )


def _build(values: Mapping[str, str], source: str, base_url: str | None) -> ControlPanelCredentials:
    if base_url is None:
        if values.get(URL_KEY):
            base_url = values[URL_KEY]
        elif values.get(DOMAIN_KEY):
            base_url = base_url_for_domain(values[DOMAIN_KEY])
        else:
            raise ConfigurationError(
                f"In {source}: give {URL_KEY} (e.g. https://cp.example.com/api/v0/) or "
                f"{DOMAIN_KEY} (e.g. example.com) to say where the Control Panel is."
            )
    return ControlPanelCredentials(
        base_url=normalize_base_url(base_url),
        app_id=values[APP_ID_KEY],
        app_version=values[APP_VERSION_KEY],
        cp_token=values[TOKEN_KEY],
        username=values[USERNAME_KEY],
        password=values[PASSWORD_KEY],
        source=source,
    )


def load_controlpanel_credentials(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    base_url: str | None = None,
) -> ControlPanelCredentials:
    """The INI file when a path is given, else the ``CP_*`` environment variables.

    ``base_url`` (e.g. from ``--cp-url``) overrides ``cp_url``/``cp_domain``.
    """
    if path is not None:
        p = Path(path).expanduser().absolute()
        values = read_ini(
            p, required=REQUIRED, optional=OPTIONAL, what="Control Panel credentials file"
        )
        return _build(values, str(p), base_url)

    env = os.environ if environ is None else environ
    values = {key: env.get(env_name(key), "").strip() for key in KEYS}
    missing = [env_name(k) for k in REQUIRED if not values[k]]
    if missing:
        raise ConfigurationError(
            "No Control Panel credentials: give --credentials FILE (an INI file with "
            f"{', '.join(REQUIRED)} and {URL_KEY} or {DOMAIN_KEY}) or set the environment "
            f"variables {', '.join(missing)}."
        )
    return _build(values, "the environment (CP_* variables)", base_url)
