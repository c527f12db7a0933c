"""Every e-mail of a time window, although the API pages and refuses windows that are too big.

The search pages with ``offset``/``limit`` but refuses a window that holds 10,000 or more
results (error 3089). This module walks a window page by page and, when it is refused (or
reports that many results up front), halves it and walks the halves, down to a bounded depth.

Halves share their middle second: ``[start, mid]`` and ``[mid, end]``. Whether the API's
``date_to`` is inclusive or not, no e-mail falls into a gap; e-mails dated in a shared second
are remembered by key so none is yielded twice. Pages are requested in ascending date order so
that e-mails arriving during the walk land at the end instead of shifting the offsets.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterator

from .errors import WINDOW_TOO_LARGE, ControlPanelError
from .models import Email, EmailPage, format_api_time

FetchPage = Callable[[datetime.datetime, datetime.datetime, int, int], EmailPage]
"""``fetch(date_from, date_to, offset, limit)`` → one page of the search."""

MAX_WINDOW_RESULTS = 10_000
"""The API refuses a window with this many results or more."""

MAX_SPLIT_DEPTH = 16
"""At most 2**16 windows: a week split this far is ~9 s per window."""


class _Walk:
    """State shared by all windows of one search: the split points and keys seen there."""

    def __init__(
        self,
        fetch: FetchPage,
        *,
        page_size: int,
        max_window_results: int,
        max_depth: int,
    ) -> None:
        self.fetch = fetch
        self.page_size = page_size
        self.max_window_results = max_window_results
        self.max_depth = max_depth
        self.boundaries: set[datetime.datetime] = set()
        self.boundary_keys: set[str] = set()

    def _on_boundary(self, email: Email) -> bool:
        if email.date is None:
            return True
        return email.date.replace(microsecond=0) in self.boundaries

    def window(
        self,
        start: datetime.datetime,
        end: datetime.datetime,
        depth: int,
        skip: frozenset[str],
    ) -> Iterator[Email]:
        """The e-mails of ``[start, end]``, except those in ``skip`` (already yielded)."""
        yielded: set[str] = set()
        offset = 0
        # A window that needs more pages than this would have been refused: a server that
        # ignores the offset must not keep us here for ever.
        max_pages = math.ceil(self.max_window_results / self.page_size) + 1
        for _ in range(max_pages):
            try:
                page = self.fetch(start, end, offset, self.page_size)
            except ControlPanelError as error:
                if not error.window_too_large:
                    raise
                yield from self.split(start, end, depth, skip | yielded, error)
                return
            found = page.num_found_items
            if offset == 0 and found is not None and found >= self.max_window_results:
                yield from self.split(start, end, depth, skip, None)
                return
            for email in page.emails:
                if email.key in skip or email.key in yielded:
                    continue
                if self._on_boundary(email):
                    if email.key in self.boundary_keys:
                        continue
                    self.boundary_keys.add(email.key)
                yielded.add(email.key)
                yield email
            offset += len(page.emails)
            if len(page.emails) < self.page_size or (found is not None and offset >= found):
                return
        raise ControlPanelError(
            f"The Control Panel kept returning pages for {format_api_time(start)} .. "
            f"{format_api_time(end)} beyond {max_pages} pages of {self.page_size}; "
            "it may be ignoring the offset. Report this to the Control Panel provider."
        )

    def split(
        self,
        start: datetime.datetime,
        end: datetime.datetime,
        depth: int,
        skip: frozenset[str],
        cause: ControlPanelError | None,
    ) -> Iterator[Email]:
        """Walk both halves of a window that is too large, or explain why it cannot be split."""
        span = (end - start).total_seconds()
        if depth >= self.max_depth or span < 2:
            raise ControlPanelError(
                f"The Control Panel refuses the search window {format_api_time(start)} .. "
                f"{format_api_time(end)} as too large (10,000 or more e-mails) even after "
                f"splitting it {depth} times; use a shorter --days.",
                status_code=cause.status_code if cause else None,
                error_id=cause.error_id if cause else WINDOW_TOO_LARGE,
                error_message=cause.error_message if cause else None,
                error_data=cause.error_data if cause else None,
                method="POST",
                path="emails/_search/",
            ) from cause
        mid = (start + datetime.timedelta(seconds=span / 2)).replace(microsecond=0)
        self.boundaries.add(mid)
        yield from self.window(start, mid, depth + 1, skip)
        yield from self.window(mid, end, depth + 1, skip)


def walk_emails(
    fetch: FetchPage,
    date_from: datetime.datetime,
    date_to: datetime.datetime,
    *,
    page_size: int = 100,
    max_window_results: int = MAX_WINDOW_RESULTS,
    max_depth: int = MAX_SPLIT_DEPTH,
) -> Iterator[Email]:
    """Each e-mail of ``[date_from, date_to]`` once, splitting refused windows."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if date_to < date_from:
        raise ValueError("date_to is before date_from")
    walk = _Walk(
        fetch, page_size=page_size, max_window_results=max_window_results, max_depth=max_depth
    )
    return walk.window(
        date_from.replace(microsecond=0), date_to.replace(microsecond=0), 0, frozenset()
    )
