"""How the Control Panel client talks HTTP: one request at a time and a few per second, bounded
retries of 429s, timeouts on every request, no redirects, and errors with the secrets scrubbed out.

No rate limit is documented, but a Control Panel that allows 5 requests per second has answered
an unpaced audit's sixth request with 429 (and the audit lost a second waiting). So requests are
paced to ``DEFAULT_RATE`` per second with the Variomedia client's pacer, and ``Retry-After`` is
still honoured should the server want less.

The endpoints (``client``) say *what* to ask; this module says *how*, so that every request
gets the same care.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import requests

from .. import __version__
from ..clock import SYSTEM_CLOCK, Clock
from ..http_util import MAX_MESSAGE, proxies_for, retry_after, scrub
from ..pacing import RequestPacer
from .credentials import normalize_base_url
from .errors import ControlPanelError, describe

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (10.0, 60.0)
"""(connect, read) seconds for every request."""

DEFAULT_RATE = 4.0
"""Requests per second: below the 5 per second seen to draw 429s, and a normal audit (about
seven requests) still takes only about a second longer than unpaced."""


def pacer_for_rate(rate: float, clock: Clock) -> RequestPacer:
    """A pacer that lets through ``rate`` requests per second, in whole requests per window."""
    if rate <= 0:
        raise ValueError("the request rate must be more than 0 per second")
    limit = max(1, int(rate))
    return RequestPacer(limit, limit / rate, clock=clock)


class Transport:
    """The HTTP side of a Control Panel session: headers, the session token, retries, errors.

    At most ``rate`` requests per second are sent. A 429 is retried up to ``max_retries``
    times, waiting what ``Retry-After`` asks (1, 2, 4 ... s without one) but never longer than
    ``max_retry_after`` seconds per wait: a server that asks for more gets an error that says
    to come back later.
    """

    def __init__(
        self,
        base_url: str,
        *,
        app_id: str,
        app_version: str,
        cp_token: str,
        verify: bool | str = True,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Clock = SYSTEM_CLOCK,
        max_retries: int = 3,
        max_retry_after: float = 30.0,
        rate: float = DEFAULT_RATE,
        credentials_source: str = "the credentials file",
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._app_id = app_id
        self._app_version = app_version
        self._cp_token = cp_token
        self._verify = verify
        self._timeout = timeout
        self._clock = clock
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._pacer = pacer_for_rate(rate, clock)
        self._source = credentials_source
        self._http = session or requests.Session()
        # No ~/.netrc credentials sent along; proxies from the environment are taken explicitly.
        self._http.trust_env = False
        self._proxies = proxies_for(self.base_url)
        self._lock = threading.Lock()
        self.session_token: str | None = None
        self._secrets: list[str] = [cp_token]
        self.requests_sent = 0

    def keep_secret(self, secret: str) -> None:
        """Scrub ``secret`` from every later message too."""
        self._secrets.append(secret)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets, limit=MAX_MESSAGE)

    def _scrub_data(self, data: Any) -> Any:
        """``error_data`` with every string scrubbed (a server may echo what it was sent)."""
        if isinstance(data, str):
            return self._scrub(data)
        if isinstance(data, Mapping):
            return {self._scrub(str(k)): self._scrub_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self._scrub_data(v) for v in data]
        return data

    def _headers(self, authorized: bool) -> dict[str, str]:
        headers = {
            "app-id": self._app_id,
            "app-version": self._app_version,
            "cp-token": self._cp_token,
            "accept": "application/json",
            "user-agent": f"certbot-dns-variomedia-cp-audit/{__version__}",
        }
        if authorized:
            if self.session_token is None:
                raise ControlPanelError("Not logged in to the Control Panel: call login() first.")
            headers["authorization"] = f"Token {self.session_token}"
        return headers

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        authorized: bool = True,
        raw_text: bool = False,
    ) -> Any:
        """Send one request (one at a time), retrying 429s; the parsed body, or an error."""
        what = f"{method} {path}"
        headers = self._headers(authorized)
        with self._lock:
            for attempt in range(self._max_retries + 1):
                response = self._send(
                    method,
                    path=path,
                    params=params,
                    json_body=json_body,
                    headers=headers,
                    what=what,
                )
                if response.status_code != 429 or attempt == self._max_retries:
                    break
                wait = retry_after(response.headers, self._clock.time())
                if wait is None:
                    wait = float(2**attempt)
                if wait > self._max_retry_after:
                    break
                logger.info("The Control Panel asks to wait %.1f s (429); waiting.", wait)
                response.close()
                self._clock.sleep(wait)
        return self._parse(response, what, raw_text)

    def _send(
        self,
        method: str,
        *,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str],
        what: str,
    ) -> requests.Response:
        url = self.base_url + path
        try:
            with self._pacer.slot():
                started = self._clock.monotonic()
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=dict(headers),
                    timeout=self._timeout,
                    verify=self._verify,
                    proxies=self._proxies,
                    allow_redirects=False,
                )
        except requests.exceptions.SSLError as error:
            raise ControlPanelError(
                f"The Control Panel's HTTPS certificate at {self.base_url} was not accepted "
                f"({self._scrub(type(error).__name__)}); if it is issued by a private CA, "
                "give that CA with --ca-bundle.",
                method=method,
                path=path,
                needs_fix=True,
            ) from None
        except requests.exceptions.Timeout:
            raise ControlPanelError(
                f"The Control Panel at {self.base_url} did not answer {what} within "
                f"{self._timeout[1]:.0f} s; try again later.",
                method=method,
                path=path,
            ) from None
        except requests.exceptions.RequestException as error:
            raise ControlPanelError(
                f"Cannot reach the Control Panel at {self.base_url} ({type(error).__name__}); "
                "check cp_url / cp_domain and the network.",
                method=method,
                path=path,
            ) from None
        self.requests_sent += 1
        logger.debug(
            "%s -> %s in %.2f s", what, response.status_code, self._clock.monotonic() - started
        )
        return response

    def _parse(self, response: requests.Response, what: str, raw_text: bool) -> Any:
        method, _, path = what.partition(" ")
        status = response.status_code
        if 300 <= status < 400:
            raise ControlPanelError(
                f"The Control Panel redirected {what} (HTTP {status}); set cp_url to the final "
                "address of the API (redirects are not followed: they would carry the tokens).",
                status_code=status,
                method=method,
                path=path,
                needs_fix=True,
            )
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if status >= 400:
            raise self._error(status, body, response.reason, what)
        if body is None:
            if raw_text:
                return response.text
            if not response.content:
                return {}
            raise ControlPanelError(
                f"The Control Panel answered {what} with something that is not JSON "
                f"(HTTP {status}, {response.headers.get('content-type', 'no content type')}); "
                "check that cp_url points at the API (it ends in /api/v0/).",
                status_code=status,
                method=method,
                path=path,
            )
        return body

    def _error(self, status: int, body: Any, reason: str, what: str) -> ControlPanelError:
        method, _, path = what.partition(" ")
        shaped = isinstance(body, Mapping) and any(
            k in body for k in ("error_id", "error_message", "error_data")
        )
        data: Mapping[str, Any] = {}
        error_id: int | None = None
        message: str | None = reason or None
        if shaped:
            assert isinstance(body, Mapping)
            raw_data = body.get("error_data")
            data = raw_data if isinstance(raw_data, Mapping) else {}
            raw_id = body.get("error_id")
            error_id = raw_id if isinstance(raw_id, int) else None
            raw_message = body.get("error_message")
            message = raw_message if isinstance(raw_message, str) else message
        text = describe(
            what=what,
            status_code=status,
            error_id=error_id,
            error_message=message,
            error_data=data,
            credentials_source=self._source,
        )
        return ControlPanelError(
            self._scrub(text),
            status_code=status,
            error_id=error_id,
            error_message=self._scrub(message) if message else None,
            error_data=self._scrub_data(data),
            method=method,
            path=path,
        )
