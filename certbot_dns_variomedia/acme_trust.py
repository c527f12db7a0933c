"""What ``variomedia-dns issue`` does not take on the CA's word.

Whoever answers at ``--server`` decides which authorizations an order gets, and the tool writes
a DNS record for each one (switching on update locks on the way). So the ACME directory is
reached over plain ``http://`` only on this machine, the same rule as for the API URL, and an
order whose authorizations name an identifier that was not asked for is refused before anything
is written. (`issuing.session.open_session` checks the URL for every conversation with a CA,
`issue.obtain_certificate` the order; the rules live here, apart from the conversation.)
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from acme import messages

from .errors import ConfigurationError, VariomediaError
from .http_util import is_loopback_host, scrub


class UnrequestedIdentifier(VariomediaError):
    """The CA's order has an authorization for a name that was not asked for."""


def check_directory_url(url: str) -> None:
    """Refuse an ACME directory URL that is not https://, except on this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"The ACME directory URL {url!r} is not an http(s) URL; for Let's Encrypt leave "
            "--server out."
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"The ACME directory URL {url!r} uses plain http:// to a host that is not this "
            "machine; anyone on the way could answer for the CA. Use https://"
        )


def check_authorizations(order: messages.OrderResource, names: Sequence[str]) -> None:
    """Refuse an order whose authorizations are not exactly for the requested `names`
    (ACE, ``*.`` for a wildcard), before any record is written for them."""
    wanted = {name.lower() for name in names}
    for authzr in order.authorizations:
        identifier = authzr.body.identifier
        value = str(identifier.value).lower().rstrip(".")
        name = ("*." if authzr.body.wildcard else "") + value
        if identifier.typ != messages.IDENTIFIER_FQDN or name not in wanted:
            raise UnrequestedIdentifier(
                f"The CA answered the order for {', '.join(names)} with an authorization for "
                f"{scrub(name, ())}, which was not asked for; nothing was written. Check "
                "--server: it should be the directory URL of the CA you trust."
            )
