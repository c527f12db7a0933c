"""Small HTTP rules that both API clients (Variomedia's and the Control Panel's) keep alike.

Where plain ``http://`` is allowed, how long a server's ``Retry-After`` asks us to wait, how a
server's words are made fit for a message, and how long an answer may take: two clients with
different rules here would refuse, wait for, or print different things.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import ipaddress
import os
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from urllib.parse import quote, quote_plus, urlsplit

import requests

# The longest piece of a server's text a message quotes, and the longest message built around
# such pieces (the Control Panel client scrubs whole messages); the rest is cut.
MAX_SERVER_TEXT = 300
MAX_MESSAGE = 1000


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses: the only hosts plain HTTP is allowed to."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def proxies_for(url: str) -> dict[str, str]:
    """The proxies for `url`, read from the environment (``HTTPS_PROXY``, ``NO_PROXY`` ...) on
    purpose: the clients' sessions do not trust the environment, which would also send
    ``~/.netrc`` credentials in place of ours. Never a proxy for loopback: the token would travel
    in clear to it."""
    if is_loopback_host(urlsplit(url).hostname or ""):
        return {}
    return dict(requests.utils.get_environ_proxies(url))


def ca_bundle() -> str | bool:
    """The CA bundle the environment names (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``), which a
    session that does not trust the environment would ignore; else the system's CAs."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), ``None``
    when there is none or it cannot be read. An HTTP date is measured against the answer's own
    ``Date`` header where there is one, so this host's clock being off does not matter; `now`
    (UNIX time) stands in otherwise."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = _http_date(value)
    if when is None:
        return None
    sent = _http_date(headers.get("Date") or "")
    return max(0.0, when - (now if sent is None else sent))


def _http_date(text: str) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def scrub(text: str, secrets: Iterable[str], limit: int = MAX_SERVER_TEXT) -> str:
    """A server's text, fit for a message that certbot logs and cron mails.

    A server or a proxy may echo what it was sent (the ``Authorization`` header among it): every
    secret is replaced by ``***``, also URL-encoded. Control characters (line breaks that forge
    log lines, escapes that repaint a terminal, bidirectional overrides) become spaces. At most
    `limit` characters are kept.
    """
    for secret in secrets:
        if secret:
            for form in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret))):
                text = text.replace(form, "***")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"  # an ellipsis
    return text


@contextlib.contextmanager
def deadline(seconds: float, cut: Callable[[], None]) -> Iterator[threading.Event]:
    """Bound the block's blocking I/O: past `seconds`, `cut` runs in another thread (it shuts the
    block's sockets down, so a read blocked on a server that drips its answer returns at once).
    The event tells the block afterwards whether it was cut."""
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        cut()

    watchdog = threading.Timer(seconds, fire)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield fired
    finally:
        watchdog.cancel()
