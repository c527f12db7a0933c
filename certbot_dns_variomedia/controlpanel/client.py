"""A small client of the mail-security Control Panel API (``https://cp.<domain>/api/v0/``).

Only the calls the audit needs, each returning typed results. It is the only code that speaks
to the Control Panel; how each request is sent (one at a time, 429s retried as ``Retry-After``
says, timeouts, no redirects, secrets scrubbed from every message) is ``transport``'s job.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from .credentials import ControlPanelCredentials
from .errors import ControlPanelError
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
from .transport import Transport

logger = logging.getLogger(__name__)


class ControlPanelClient:
    """A session with the Control Panel API; use as a context manager to always log out.

    ::

        with ControlPanelClient.from_credentials(creds) as cp:
            cp.login(creds.username, creds.password)
            for mail in cp.search_emails(cp.object_id_for_domain("example.de"), start, end):
                ...
    """

    def __init__(self, transport: Transport) -> None:
        """The endpoints, sent through `transport` (URL, app identity, TLS, pacing, retries)."""
        self.transport = transport
        self.base_url = self.transport.base_url
        self.object_id: int | None = None

    @property
    def requests_sent(self) -> int:
        """Requests sent so far (retries included)."""
        return self.transport.requests_sent

    @classmethod
    def from_credentials(
        cls, credentials: ControlPanelCredentials, **options: Any
    ) -> ControlPanelClient:
        """A client for the URL and app identity in ``credentials`` (log in separately)."""
        return cls(
            Transport(
                credentials.base_url,
                app_id=credentials.app_id,
                app_version=credentials.app_version,
                cp_token=credentials.cp_token,
                credentials_source=credentials.source,
                **options,
            )
        )

    def __repr__(self) -> str:
        state = "logged in" if self.logged_in else "logged out"
        return f"ControlPanelClient(base_url={self.base_url!r}, {state})"

    # -- session -------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self.transport.session_token is not None

    def login(self, username: str, password: str) -> Login:
        """Log in; the session token is kept for later requests, the scope is returned."""
        self.transport.keep_secret(password)
        body = self.transport.call(
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
        self.transport.session_token = body["token"]
        self.transport.keep_secret(body["token"])
        object_id = body.get("object_id")
        self.object_id = object_id if isinstance(object_id, int) else None
        logger.debug("Logged in to %s (scope object %s)", self.base_url, self.object_id)
        return Login(object_id=self.object_id)

    def logout(self) -> None:
        """End the session: the token becomes invalid on the server (and is forgotten here)."""
        if self.transport.session_token is None:
            return
        try:
            self.transport.call("POST", "auth/logout/")
        finally:
            self.transport.session_token = None
            self.object_id = None
            logger.debug("Logged out of %s", self.base_url)

    def close(self) -> None:
        """Log out if logged in, and close the connections; a failed logout is only logged."""
        try:
            self.logout()
        except ControlPanelError as error:
            logger.warning("Logging out of the Control Panel failed: %s", error)
        finally:
            self.transport.close()

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
        body = self.transport.call("GET", "version/", raw_text=True)
        if isinstance(body, Mapping):
            body = body.get("version", "")
        return str(body).strip().strip('"')

    def hierarchy_search(
        self, search_string: str, filter: str = "customer"
    ) -> list[HierarchyObject]:
        """The objects (with their children) whose names match ``search_string``."""
        body = self.transport.call(
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
        answer = self.transport.call(
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
        body = self.transport.call(
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
        body = self.transport.call("GET", "whitelabeling/", params={"object_id": object_id})
        return Whitelabeling.from_api(body if isinstance(body, Mapping) else {})

    def whitelabeling_infos(self) -> Whitelabeling:
        """The customisation the server picks by its host name (no object id needed)."""
        body = self.transport.call("GET", "whitelabeling/infos/")
        return Whitelabeling.from_api(body if isinstance(body, Mapping) else {})
