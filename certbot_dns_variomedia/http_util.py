"""Small HTTP rules that both API clients (Variomedia's and the Control Panel's) keep alike.

Where plain ``http://`` is allowed, and how long a server's ``Retry-After`` asks us to wait: two
clients with different rules here would refuse, or wait for, different things.
"""

from __future__ import annotations

import datetime
import email.utils
import ipaddress
from collections.abc import Mapping


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses: the only hosts plain HTTP is allowed to."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
