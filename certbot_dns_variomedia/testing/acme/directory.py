"""Whether an ACME directory answers: the start-up check of every test CA (Pebble,
acme2certifier), so that both call a CA ready by the same rule."""

from __future__ import annotations

from pathlib import Path

import requests

PROBE_TIMEOUT = (0.5, 2.0)  # connect, read: one probe of a CA that is starting


def directory_problem(session: requests.Session, url: str, *, ca_bundle: Path) -> str | None:
    """``None`` once `url` serves an ACME directory (with ``newAccount``); else what went wrong,
    for the message of a start-up that times out."""
    try:
        answer = session.get(url, verify=str(ca_bundle), timeout=PROBE_TIMEOUT)
        if answer.status_code == 200 and "newAccount" in answer.json():
            return None
        return f"HTTP {answer.status_code} from {url}"
    except (requests.RequestException, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
