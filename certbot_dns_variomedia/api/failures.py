"""How a failed exchange with the Variomedia API becomes one exception of `errors`.

The transport decides *whether* to retry; this module decides what the person at the terminal
reads: which request failed, what the API said, and what to do about it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import requests

from ..errors import (
    APIError,
    AuthenticationError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from ..http_util import scrub
from . import jsonapi
from .exchange import Bounds


class UntrustedCertificate(NetworkError):
    """The TLS handshake failed the certificate check: the request never left this host."""


class AnswerTooSlow(NetworkError):
    """The whole answer did not arrive within the deadline (`exchange.Bounds`)."""

    @classmethod
    def for_(cls, base_url: str, method: str, path: str, bounds: Bounds) -> AnswerTooSlow:
        return cls(
            f"The Variomedia API at {base_url} did not finish its answer to {method} {path} "
            f"within {bounds.deadline:g} s (it sent too slowly); the connection was cut and the "
            "request is not repeated. Try again later; if it persists, check "
            "dns_variomedia_api_url.",
            method=method,
            path=path,
            unclear=True,
        )


class AnswerTooLarge(ServerError):
    """The answer was larger than the cap (`exchange.Bounds`)."""

    @classmethod
    def for_(cls, method: str, path: str, bounds: Bounds) -> AnswerTooLarge:
        return cls(
            f"The Variomedia API answered {method} {path} with more than "
            f"{bounds.max_body // 2**20} MB; the rest was not read and the request is not "
            "repeated (its answers are a few KB). Check dns_variomedia_api_url; if it is "
            "right, the API is failing: try again later.",
            method=method,
            path=path,
            unclear=True,
        )


# Failures that do not get better by asking again: never retried.
FINAL = (UntrustedCertificate, AnswerTooSlow, AnswerTooLarge)


def error_for(
    response: requests.Response,
    method: str,
    path: str,
    *,
    token_source: str,
    secrets: Sequence[str] = (),
    unclear: bool = False,
) -> APIError:
    """An exception for a failed answer, with a message that says what to do. What the server
    said is quoted scrubbed (`http_util.scrub`): it may echo the token it was sent."""
    status = response.status_code
    try:
        errors = jsonapi.parse(response.content).errors
    except jsonapi.MalformedDocument:
        errors = ()
    first = errors[0] if errors else None
    detail = scrub("; ".join(e.describe() for e in errors), secrets) if errors else ""
    error_id = scrub(first.id, secrets) if first and first.id else None
    where = f"{method} {path}"
    kwargs: dict[str, Any] = {
        "status": status,
        "error_id": error_id,
        "method": method,
        "path": path,
        "unclear": unclear,
    }
    if 200 <= status < 300 or (status >= 500 and not errors):
        kind = scrub(response.headers.get("Content-Type", "no content type").split(";")[0], secrets)
        what = "an HTML page" if "html" in kind else f"a body that is not JSON:API ({kind})"
        return ServerError(
            f"The Variomedia API answered {where} with status {status} and {what}. "
            "It may be having problems; try again later.",
            **kwargs,
        )
    if status == 401:
        return AuthenticationError(
            f"The API token was refused (401 on {where}): check {token_source}. "
            "A token stops working when its contact is deleted; Variomedia support "
            "issues new ones.",
            **kwargs,
        )
    if status == 403:
        return AuthenticationError(
            f"The API refused {where} (403: {detail or 'forbidden'}). The token may not be "
            "enabled for this, or the API has locked this address after too many errors; "
            "wait a while, and check the token with Variomedia support.",
            **kwargs,
        )
    if status == 404:
        return NotFoundError(f"Not found: {where} ({detail or 'no details'}).", **kwargs)
    if status == 429:
        return RateLimitError(f"Rate limit reached on {where}.", **kwargs)
    if status >= 500:
        return ServerError(
            f"The Variomedia API failed on {where} ({status}: {detail}). "
            "Try again later; if it persists, contact Variomedia support.",
            **kwargs,
        )
    return ValidationError(
        f"The Variomedia API rejected {where} ({status}: {detail or 'no details given'}).",
        **kwargs,
    )


def redirect_error(
    response: requests.Response, method: str, path: str, *, secrets: Sequence[str] = ()
) -> ServerError:
    """A 3xx is no success: name where it points (scrubbed), and what to fix."""
    location = scrub(response.headers.get("Location") or "nowhere", secrets)
    return ServerError(
        f"The Variomedia API answered {method} {path} with a redirect "
        f"({response.status_code}) to {location}; redirects are not followed (they would "
        "carry the token elsewhere). Set dns_variomedia_api_url to the address the API "
        "answers at.",
        status=response.status_code,
        method=method,
        path=path,
    )


_VERIFY_FAILED = re.compile(r"certificate verify failed: (.+?)\.? \(_ssl")


def certificate_problem(e: requests.RequestException) -> str | None:
    """What the certificate check said (``None``: the error was not about the certificate)."""
    text = str(e)
    if not isinstance(e, requests.exceptions.SSLError) or "certificate verify failed" not in text:
        return None
    found = _VERIFY_FAILED.search(text)
    return found.group(1) if found else "certificate verify failed"


def refused(e: requests.RequestException) -> bool:
    """A connection that was never made: the request surely did not arrive."""
    if not isinstance(e, requests.ConnectionError):
        return False
    text = repr(e.args[0]) if e.args else ""
    return "NewConnectionError" in text or "NameResolutionError" in text


def reason(e: requests.RequestException) -> str:
    if isinstance(e, requests.Timeout):
        return "timed out"
    if refused(e):
        return "connection refused or host not found"
    if isinstance(e, requests.ConnectionError):
        return "connection broken before the answer arrived"
    return e.__class__.__name__
