"""The one exception the Control Panel client raises, and the advice its messages give.

The API answers errors as ``{"error_data", "error_message", "error_id", "status_code"}``; the
raw fields mean little at a terminal ("Validationerror, 2009"), so the message says what to
change instead, and the fields stay on the exception for code that wants to branch on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import VariomediaError

WINDOW_TOO_LARGE = 3089
"""``error_id`` of a search whose time window holds 10,000 or more results."""

FIELD_REQUIRED = 2009
"""``error_id`` of a validation error (e.g. ``object_id`` missing)."""

# What the user changes when the API complains about one of these fields or headers.
_FIELD_ADVICE = {
    "object_id": (
        "object_id is required: this request needs a domain scope; run with --domain "
        "(cp-audit looks up the domain's object id)"
    ),
    "app-id": "the app-id header was refused: check cp_app_id (the App ID your provider issued)",
    "app_id": "the app-id header was refused: check cp_app_id (the App ID your provider issued)",
    "app-version": "the app-version header was refused: check cp_app_version (e.g. 1.0.0.0)",
    "app_version": "the app-version header was refused: check cp_app_version (e.g. 1.0.0.0)",
    "cp-token": (
        "the cp-token header was refused: check cp_token (create an API token under "
        "user settings > API Token in the Control Panel)"
    ),
    "cp_token": (
        "the cp-token header was refused: check cp_token (create an API token under "
        "user settings > API Token in the Control Panel)"
    ),
    "authorization": "the session token was refused: log in again (it expires at logout)",
    "username": "check cp_username (the e-mail address you log in to the Control Panel with)",
    "password": "check cp_password",
    "date_from": "date_from must be a time like 2024-01-31T00:00:00Z",
    "date_to": "date_to must be a time like 2024-01-31T00:00:00Z",
}


class ControlPanelError(VariomediaError):
    """The Control Panel refused a request, answered nonsense, or could not be reached.

    ``status_code`` is the HTTP status (``None`` when no answer came); ``error_id``,
    ``error_message`` and ``error_data`` are the API's own fields when it sent them.
    ``method`` and ``path`` say which request failed (the path never holds a secret).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_id: int | None = None,
        error_message: str | None = None,
        error_data: Mapping[str, Any] | None = None,
        method: str | None = None,
        path: str | None = None,
        needs_fix: bool | None = None,
    ) -> None:
        super().__init__(message)
        self._needs_fix = needs_fix
        self.status_code = status_code
        self.error_id = error_id
        self.error_message = error_message
        self.error_data: Mapping[str, Any] = dict(error_data or {})
        self.method = method
        self.path = path

    @property
    def needs_fix(self) -> bool:
        """True when running again unchanged cannot help: the request or configuration is wrong
        (HTTP 4xx other than 429, or e.g. a domain the login cannot see)."""
        if self._needs_fix is not None:
            return self._needs_fix
        return (
            self.status_code is not None
            and 400 <= self.status_code < 500
            and (self.status_code != 429)
        )

    @property
    def window_too_large(self) -> bool:
        """True for the refusal of a search window with too many results (split it)."""
        return self.error_id == WINDOW_TOO_LARGE


def _flatten(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``{"object_id": ["This field is required."]}`` → ``[("object_id", "This field ...")]``."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        if isinstance(value, (list, tuple)):
            text = " ".join(str(v) for v in value)
        elif isinstance(value, Mapping):
            text = "; ".join(f"{k}: {v}" for k, v in _flatten(value))
        else:
            text = str(value)
        pairs.append((str(key), text))
    return pairs


def describe(
    *,
    what: str,
    status_code: int | None,
    error_id: int | None,
    error_message: str | None,
    error_data: Mapping[str, Any],
    credentials_source: str,
) -> str:
    """A message that names the failed request, the API's words and the fix.

    ``what`` is e.g. ``"POST emails/_search/"``; ``credentials_source`` is where the user edits
    the credentials (a file path or "the environment").
    """
    said = error_message or "no error message"
    details = "; ".join(f"{k}: {v}" for k, v in _flatten(error_data))
    api_words = f"{said} ({details})" if details else said
    ident = f", error {error_id}" if error_id is not None else ""
    verb = "failed on" if status_code is not None and status_code >= 500 else "refused"
    head = f"The Control Panel {verb} {what} (HTTP {status_code}{ident}: {api_words})"

    advice = [_FIELD_ADVICE[k] for k in error_data if k in _FIELD_ADVICE]
    if error_id == WINDOW_TOO_LARGE:
        advice.append(
            "the time window holds 10,000 or more e-mails and cannot be split further; "
            "use a shorter --days"
        )
    if not advice:
        if status_code in (401, 403) and what.endswith("auth/login/"):
            advice.append(
                f"check cp_username and cp_password (and cp_token, cp_app_id) in "
                f"{credentials_source}"
            )
        elif status_code == 401:
            advice.append(
                f"check cp_token and cp_app_id in {credentials_source}; a session token is "
                "only valid until logout"
            )
        elif status_code == 403:
            advice.append(
                "this user may not see that object: use an account whose scope includes "
                "the domain, or check --domain"
            )
        elif status_code == 404:
            advice.append("check the Control Panel URL (cp_url / cp_domain)")
        elif status_code == 429:
            advice.append("the Control Panel is rate limiting; wait a minute and run again")
        elif status_code is not None and status_code >= 500:
            advice.append("the Control Panel has a problem; try again later")
    return head + (": " + "; ".join(advice) if advice else "") + "."
