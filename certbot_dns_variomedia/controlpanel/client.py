"""A small client of the mail-security Control Panel API (``https://cp.<domain>/api/v0/``).

Only the calls the audit needs, each returning typed results. It is the only code that speaks
to the Control Panel. It sends one request at a time (concurrent calls have drawn 429s in the
wild), waits as ``Retry-After`` says on a 429 within a bound, has a timeout on every request,
never follows redirects (they would carry the cp-token elsewhere) and keeps the password and
the tokens out of every message, log line and repr.
"""

from __future__ import annotations

import datetime
import logging
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import requests

from .. import __version__
from ..clock import SYSTEM_CLOCK, Clock
from ..http_util import is_loopback_host, retry_after
from .credentials import ControlPanelCredentials, normalize_base_url
from .errors import ControlPanelError, describe
from .models import (
    Direction,
    Email,
    EmailPage,
    HierarchyObject,
    Login,
    StatisticsEntry,
    Whitelabeling,
    format_api_time,
)
from .search import MAX_SPLIT_DEPTH, MAX_WINDOW_RESULTS, walk_emails

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (10.0, 60.0)
"""(connect, read) seconds for every request."""


class ControlPanelClient:
    """A session with the Control Panel API; use as a context manager to always log out.

    ::

        with ControlPanelClient.from_credentials(creds) as cp:
            cp.login(creds.username, creds.password)
            for mail in cp.search_emails(cp.object_id_for_domain("example.de"), start, end):
                ...
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
        credentials_source: str = "the credentials file",
        session: requests.Session | None = None,
    ) -> None:
        """``verify`` is True (system CAs), False, or the path of a CA bundle.

        A 429 is retried up to ``max_retries`` times, waiting what ``Retry-After`` asks (1, 2,
        4 ... s without one) but never longer than ``max_retry_after`` seconds per wait: a
        server that asks for more gets an error that says to come back later.
        """
        self.base_url = normalize_base_url(base_url)
        self._app_id = app_id
        self._app_version = app_version
        self._cp_token = cp_token
        self._verify = verify
        self._timeout = timeout
        self._clock = clock
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._source = credentials_source
        self._http = session or requests.Session()
        # No ~/.netrc credentials sent along; proxies from the environment are taken explicitly.
        self._http.trust_env = False
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        self._proxies = (
            {} if is_loopback_host(host) else requests.utils.get_environ_proxies(self.base_url)
        )
        self._lock = threading.Lock()
        self._token: str | None = None
        self._secrets: list[str] = [cp_token]
        self.object_id: int | None = None
        self.requests_sent = 0

    @classmethod
    def from_credentials(
        cls, credentials: ControlPanelCredentials, **options: Any
    ) -> ControlPanelClient:
        """A client for the URL and app identity in ``credentials`` (log in separately)."""
        return cls(
            credentials.base_url,
            app_id=credentials.app_id,
            app_version=credentials.app_version,
            cp_token=credentials.cp_token,
            credentials_source=credentials.source,
            **options,
        )

    def __repr__(self) -> str:
        state = "logged in" if self._token else "logged out"
        return f"ControlPanelClient(base_url={self.base_url!r}, {state})"

    # -- session -------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self._token is not None

    def login(self, username: str, password: str) -> Login:
        """Log in; the session token is kept for later requests, the scope is returned."""
        self._secrets.append(password)  # scrubbed from every later message too
        body = self._call(
            "POST",
            "auth/login/",
            json_body={"username": username, "password": password},
            authorized=False,
        )
        if not isinstance(body, Mapping) or not isinstance(body.get("token"), str):
            raise ControlPanelError(
                "The Control Panel answered the login without a token; check that cp_url "
                "points at the API (it ends in /api/v0/).",
                method="POST",
                path="auth/login/",
            )
        self._token = body["token"]
        self._secrets.append(body["token"])
        object_id = body.get("object_id")
        self.object_id = object_id if isinstance(object_id, int) else None
        logger.debug("Logged in to %s (scope object %s)", self.base_url, self.object_id)
        return Login(object_id=self.object_id)

    def logout(self) -> None:
        """End the session: the token becomes invalid on the server (and is forgotten here)."""
        if self._token is None:
            return
        try:
            self._call("POST", "auth/logout/")
        finally:
            self._token = None
            self.object_id = None
            logger.debug("Logged out of %s", self.base_url)

    def close(self) -> None:
        """Log out if logged in, and close the connections; a failed logout is only logged."""
        try:
            self.logout()
        except ControlPanelError as error:
            logger.warning("Logging out of the Control Panel failed: %s", error)
        finally:
            self._http.close()

    def __enter__(self) -> ControlPanelClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- calls ---------------------------------------------------------------------------

    def version(self) -> str:
        """The Control Panel's version, e.g. ``6.17.0.0``."""
        body = self._call("GET", "version/", raw_text=True)
        if isinstance(body, Mapping):
            body = body.get("version", "")
        return str(body).strip().strip('"')

    def hierarchy_search(
        self, search_string: str, filter: str = "customer"
    ) -> list[HierarchyObject]:
        """The objects (with their children) whose names match ``search_string``."""
        body = self._call(
            "POST",
            "hierarchy/_search/",
            json_body={"search_string": search_string, "filter": filter},
        )
        items = body if isinstance(body, list) else []
        return [
            node
            for node in (HierarchyObject.from_api(i) for i in items if isinstance(i, Mapping))
            if node is not None
        ]

    def object_id_for_domain(self, domain: str) -> int:
        """The object id of ``domain`` (its scope for domain-specific calls)."""
        wanted = domain.strip().rstrip(".").lower()
        matches = {
            node.id
            for root in self.hierarchy_search(wanted)
            for node in root.walk()
            if not node.is_user and node.name.strip().rstrip(".").lower() == wanted
        }
        if len(matches) == 1:
            return matches.pop()
        if not matches:
            raise ControlPanelError(
                f"The Control Panel has no domain {wanted!r} in the scope of this login; "
                "check --domain, or log in with an account that manages it.",
                method="POST",
                path="hierarchy/_search/",
                needs_fix=True,
            )
        raise ControlPanelError(
            f"The Control Panel has several objects named {wanted!r} "
            f"(ids {', '.join(map(str, sorted(matches)))}); cannot tell which one to audit.",
            method="POST",
            path="hierarchy/_search/",
            needs_fix=True,
        )

    def search_emails_page(
        self,
        object_id: int,
        date_from: datetime.datetime,
        date_to: datetime.datetime,
        *,
        offset: int = 0,
        limit: int = 100,
        direction: Sequence[Direction] | None = None,
        classification: Sequence[int] | None = None,
    ) -> EmailPage:
        """One page of ``emails/_search/``, oldest first."""
        body: dict[str, Any] = {
            "date_from": format_api_time(date_from),
            "date_to": format_api_time(date_to),
            "offset": offset,
            "limit": limit,
            "sort": {"key": "date", "order": "asc"},
        }
        if direction:
            body["direction"] = [int(d) for d in direction]
        if classification:
            body["classification"] = list(classification)
        answer = self._call(
            "POST", "emails/_search/", params={"object_id": object_id}, json_body=body
        )
        if not isinstance(answer, Mapping) or not isinstance(answer.get("emails"), list):
            raise ControlPanelError(
                "The Control Panel's e-mail search answered without an 'emails' list; "
                "the API may have changed.",
                method="POST",
                path="emails/_search/",
            )
        found = answer.get("num_found_items")
        return EmailPage(
            emails=tuple(Email.from_api(e) for e in answer["emails"] if isinstance(e, Mapping)),
            num_found_items=found if isinstance(found, int) else None,
        )

    def search_emails(
        self,
        object_id: int,
        date_from: datetime.datetime,
        date_to: datetime.datetime,
        *,
        direction: Sequence[Direction] | None = None,
        classification: Sequence[int] | None = None,
        page_size: int = 100,
        max_window_results: int = MAX_WINDOW_RESULTS,
        max_split_depth: int = MAX_SPLIT_DEPTH,
    ) -> Iterator[Email]:
        """Every e-mail between the two times, paging and splitting refused windows."""

        def fetch(
            start: datetime.datetime, end: datetime.datetime, offset: int, limit: int
        ) -> EmailPage:
            return self.search_emails_page(
                object_id,
                start,
                end,
                offset=offset,
                limit=limit,
                direction=direction,
                classification=classification,
            )

        return walk_emails(
            fetch,
            date_from,
            date_to,
            page_size=page_size,
            max_window_results=max_window_results,
            max_depth=max_split_depth,
        )

    def email_statistics_by_time(
        self, object_id: int, date_from: datetime.datetime, date_to: datetime.datetime
    ) -> list[StatisticsEntry]:
        """How many e-mails of each classification the window holds."""
        body = self._call(
            "POST",
            "emails/statistics/by_time/",
            params={"object_id": object_id},
            json_body={
                "date_from": format_api_time(date_from),
                "date_to": format_api_time(date_to),
            },
        )
        items = body if isinstance(body, list) else []
        return [StatisticsEntry.from_api(i) for i in items if isinstance(i, Mapping)]

    def whitelabeling(self, object_id: int) -> Whitelabeling:
        """The customisation of the object (its own Control Panel host name among it)."""
        body = self._call("GET", "whitelabeling/", params={"object_id": object_id})
        return Whitelabeling.from_api(body if isinstance(body, Mapping) else {})

    def whitelabeling_infos(self) -> Whitelabeling:
        """The customisation the server picks by its host name (no object id needed)."""
        body = self._call("GET", "whitelabeling/infos/")
        return Whitelabeling.from_api(body if isinstance(body, Mapping) else {})

    # -- transport -----------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

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
            if self._token is None:
                raise ControlPanelError("Not logged in to the Control Panel: call login() first.")
            headers["authorization"] = f"Token {self._token}"
        return headers

    def _call(
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
        started = self._clock.monotonic()
        try:
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
