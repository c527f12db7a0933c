"""Where the ``variomedia-dns`` command, `issue.obtain_certificate` and the pacing ledger keep
their files.

The manual hooks pass record ids from the auth call to the cleanup call (separate processes)
through the state file, so both calls must find the same file without being told: the default
is fixed per user. root gets the system locations (``/var/lib``, ``/etc``, ``/var/cache``) that
cron jobs and certbot's own hooks run with, whatever ``HOME`` says: ``sudo -E`` and friends keep
a user's ``HOME``, and root must not keep its files where that user can reach them. Everyone
else gets the XDG locations in their home. `safe_files` then checks every place before use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

APP = "variomedia-dns"
ENV_STATE_FILE = "VARIOMEDIA_DNS_STATE_FILE"
ENV_ACCOUNT_DIR = "VARIOMEDIA_DNS_ACCOUNT_DIR"
ENV_CACHE_DIR = "VARIOMEDIA_DNS_CACHE_DIR"
# The state files of variomedia-dns and of the plugin (the latter in certbot's work directory).
STATE_FILE_NAME = "state.json"
PLUGIN_STATE_FILE_NAME = "dns-variomedia-state.json"
SYSTEM_STATE_DIR = Path("/var/lib") / APP
SYSTEM_CONFIG_DIR = Path("/etc") / APP
# The pacing ledger is shared with the certbot plugin, whose name it carries.
CACHE_APP = "certbot-dns-variomedia"
SYSTEM_CACHE_DIR = Path("/var/cache") / CACHE_APP
# Where the plugin's state file is with certbot's default work directory.
CERTBOT_PLUGIN_STATE_FILE = Path("/var/lib/letsencrypt") / PLUGIN_STATE_FILE_NAME


def _is_root(euid: int | None) -> bool:
    return (os.geteuid() if euid is None else euid) == 0


def _xdg(environ: Mapping[str, str], variable: str, fallback: str) -> Path:
    value = environ.get(variable, "")
    # The XDG spec: a relative path in these variables is invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path(environ.get("HOME") or os.path.expanduser("~")) / fallback


def default_state_file(environ: Mapping[str, str] | None = None, euid: int | None = None) -> Path:
    """``$VARIOMEDIA_DNS_STATE_FILE``, else ``/var/lib/variomedia-dns/state.json`` for root,
    else ``$XDG_STATE_HOME/variomedia-dns/state.json`` (``~/.local/state/...``)."""
    env = os.environ if environ is None else environ
    if explicit := env.get(ENV_STATE_FILE, "").strip():
        return Path(explicit).expanduser()
    if _is_root(euid):
        return SYSTEM_STATE_DIR / STATE_FILE_NAME
    return _xdg(env, "XDG_STATE_HOME", ".local/state") / APP / STATE_FILE_NAME


def state_file_path(given: str | None) -> Path:
    """The state file a command was told (``--state-file``), else the default."""
    return Path(given).expanduser() if given else default_state_file()


def default_account_key(
    directory_url: str, environ: Mapping[str, str] | None = None, euid: int | None = None
) -> Path:
    """One ACME account key per CA directory, in ``<accounts>/<server>/account-key.pem``.

    ``<accounts>`` is ``$VARIOMEDIA_DNS_ACCOUNT_DIR``, else ``/etc/variomedia-dns/accounts``
    for root, else ``$XDG_CONFIG_HOME/variomedia-dns/accounts`` (``~/.config/...``).
    ``<server>`` is the directory URL's host and path made safe for a file name, so Let's
    Encrypt's production and staging servers get separate accounts, as they must.
    """
    env = os.environ if environ is None else environ
    if explicit := env.get(ENV_ACCOUNT_DIR, "").strip():
        accounts = Path(explicit).expanduser()
    elif _is_root(euid):
        accounts = SYSTEM_CONFIG_DIR / "accounts"
    else:
        accounts = _xdg(env, "XDG_CONFIG_HOME", ".config") / APP / "accounts"
    parts = urlsplit(directory_url)
    server = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{parts.netloc}{parts.path}").strip("_.") or "acme"
    return accounts / server / "account-key.pem"


def default_cache_dir(environ: Mapping[str, str] | None = None, euid: int | None = None) -> Path:
    """``$VARIOMEDIA_DNS_CACHE_DIR`` (an absolute path), else ``/var/cache/certbot-dns-variomedia``
    for root whatever ``HOME`` or ``XDG_CACHE_HOME`` say, else
    ``$XDG_CACHE_HOME/certbot-dns-variomedia`` (``~/.cache/...``)."""
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_CACHE_DIR, "").strip()
    if explicit and os.path.isabs(explicit):
        return Path(explicit)
    if _is_root(euid):
        return SYSTEM_CACHE_DIR
    return _xdg(env, "XDG_CACHE_HOME", ".cache") / CACHE_APP


def pacing_ledger_file(
    api_host: str, environ: Mapping[str, str] | None = None, euid: int | None = None
) -> Path:
    """One pacing ledger per API host (``host:port``) in `default_cache_dir`."""
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in api_host) or "api"
    return default_cache_dir(environ, euid) / f"pacing-{safe}.json"
