"""The project's exceptions: few types, each message written for the person at the terminal.

Every message says what went wrong and what to do about it. Front doors turn these into
certbot's ``PluginError`` or an exit status; nothing else catches them broadly. No message,
repr or attribute ever carries an API token or password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .nameservers import NameServer


class VariomediaError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(VariomediaError):
    """Bad input from the user: credentials file, option values, names. Nothing was written."""


class APIError(VariomediaError):
    """The Variomedia API refused a request or could not be reached.

    ``status`` is the HTTP status (``None`` when no answer came), ``error_id`` the JSON:API
    error ``id`` (e.g. ``resource_not_found``), ``method`` and ``path`` say which request.
    ``unclear`` is true when the request may have been carried out although no usable answer
    came (a 5xx, a broken connection after sending): such a POST must not simply be repeated.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        unclear: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.method = method
        self.path = path
        self.unclear = unclear


class AuthenticationError(APIError):
    """401/403: the token was refused or may not do this."""


class NotFoundError(APIError):
    """404: the object does not exist (for a delete this means: already gone)."""


class ValidationError(APIError):
    """400/409/422: the API rejected what was sent (bad name, TTL, domain, ...)."""


class RateLimitError(APIError):
    """429 that did not clear within the retry budget."""


class ServerError(APIError):
    """5xx, or an answer that is not the JSON:API document it should be."""


class NetworkError(APIError):
    """No answer: connection refused or reset, DNS failure, timeout."""


class JobError(VariomediaError):
    """A queue job ended in a state other than ``done``, or did not finish in time."""

    def __init__(self, message: str, *, job_id: str, status: str | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status


class ZoneError(ConfigurationError):
    """A name cannot be placed in any DNS zone of the account."""


class DNSLookupError(VariomediaError):
    """A lookup through the recursive (bootstrap) resolver failed: the message says what and why."""


class PropagationError(VariomediaError):
    """The records did not become visible on every authoritative name server in time."""


class NotAuthoritativeError(PropagationError):
    """A name server answers without the AA bit, round after round: it does not serve the zone
    (a resolver, a forwarder, a lame delegation), and no wait can change that."""

    def __init__(self, message: str, *, server: NameServer, names: tuple[str, ...]) -> None:
        super().__init__(message)
        self.server = server
        self.names = names
