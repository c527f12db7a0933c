"""The conversation with the ACME CA: the connection, the account, and errors in people's words.

Shared by the order (`issue.obtain_certificate`) and by ``persist show``/``check``, which only
need the account's URL: a dns-persist-01 record names the account by the URL the CA gave it.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import jws, messages
from josepy.jwk import JWK
from requests.adapters import HTTPAdapter

from .. import __version__
from ..acme_trust import check_directory_url
from ..errors import VariomediaError
from .keys import account_jwk

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
USER_AGENT = f"certbot-dns-variomedia/{__version__} (variomedia-dns issue)"
DEFAULT_ACME_TIMEOUT = 90.0


class CertificateError(VariomediaError):
    """The CA refused the order or failed it: no certificate was issued."""


class _TrustAdapter(HTTPAdapter):
    """Verifies the ACME server's HTTPS with one CA bundle (e.g. Pebble's), whatever else
    ``requests`` would choose; turning verification off is not offered."""

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle

    def send(  # noqa: PLR0917 - the signature is requests'
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=timeout,
            verify=self.ca_bundle,
            cert=cert,
            proxies=proxies,
        )


def deadline(seconds: float) -> datetime.datetime:
    # The acme library compares with naive local time.
    return datetime.datetime.now() + datetime.timedelta(seconds=seconds)


@dataclass
class Session:
    """A client of one CA, signed with one account key; `close` it when done."""

    acme: acme_client.ClientV2
    net: acme_client.ClientNetwork
    jwk: JWK
    directory_url: str

    @property
    def account_uri(self) -> str:
        """The account's URL, as the CA gave it (what a dns-persist-01 record must name)."""
        account = self.acme.net.account
        if account is None or not account.uri:
            raise CertificateError(
                f"The ACME server {self.directory_url} did not say which URL the account has."
            )
        return str(account.uri)

    @property
    def caa_identities(self) -> tuple[str, ...]:
        """The CA's issuer domain names, as its directory lists them (may be none)."""
        return tuple(self.acme.directory.meta.caa_identities or ())

    def close(self) -> None:
        self.net.session.close()


def open_session(directory_url: str, account_key: bytes, *, ca_bundle: str | None) -> Session:
    """Fetch the CA's directory with a client that signs with `account_key` (PEM); plain
    http:// only on this machine (`acme_trust.check_directory_url`)."""
    check_directory_url(directory_url)
    jwk, alg = account_jwk(account_key)
    net = acme_client.ClientNetwork(jwk, alg=alg, user_agent=USER_AGENT)
    if ca_bundle is not None:
        net.session.mount("https://", _TrustAdapter(ca_bundle))
    try:
        acme = acme_client.ClientV2(acme_client.ClientV2.get_directory(directory_url, net), net)
    except BaseException:
        net.session.close()
        raise
    return Session(acme, net, jwk, directory_url)


def register(
    acme: acme_client.ClientV2, *, email: str | None, agree_tos: bool, create: bool = True
) -> None:
    """Use the account of this key, creating it (and agreeing to the terms) only if needed;
    with `create` false never (a check must not leave an account behind)."""
    terms = acme.directory.meta.terms_of_service
    try:
        if (terms and not agree_tos) or not create:
            try:
                acme.new_account(messages.NewRegistration(only_return_existing=True))
            except messages.Error as e:
                if e.code != "accountDoesNotExist":
                    raise
                if not create:
                    raise CertificateError(
                        "This key has no account at the CA: create it first (variomedia-dns "
                        "persist show --agree-tos, or issue)."
                    ) from None
                raise CertificateError(
                    "This key has no account at the CA yet, and creating one means agreeing "
                    f"to the CA's terms of service ({terms}): pass agree_tos=True "
                    "(variomedia-dns issue --agree-tos) once you have read them."
                ) from None
        else:
            registration = messages.NewRegistration.from_data(
                email=email, terms_of_service_agreed=True if terms else None
            )
            acme.new_account(registration)
    except acme_errors.ConflictError as e:  # the key's account exists: use it
        acme.net.account = messages.RegistrationResource(
            uri=e.location, body=messages.Registration()
        )


def account_url(
    directory_url: str,
    account_key: bytes,
    *,
    ca_bundle: str | None = None,
    email: str | None = None,
    agree_tos: bool = False,
) -> str:
    """The URL the CA gives the account of `account_key` (created if the CA allows): what a
    dns-persist-01 record for it must name."""
    session = open_session(directory_url, account_key, ca_bundle=ca_bundle)
    try:
        register(session.acme, email=email, agree_tos=agree_tos)
        return session.account_uri
    finally:
        session.close()


def change_key(session: Session, new_key: bytes) -> None:
    """Move the session's account to `new_key` (RFC 8555 section 7.3.5): the account, and its
    URL, stay; from then on the CA accepts only the new key. The inner JWS, signed with the
    new key, proves its holder asks; the outer one, with the old key, that the account does."""
    new_jwk, new_alg = account_jwk(new_key)
    url = session.acme.directory["keyChange"]
    change = {"account": session.account_uri, "oldKey": session.jwk.public_key().to_partial_json()}
    inner = jws.JWS.sign(json.dumps(change).encode(), key=new_jwk, alg=new_alg, nonce=None, url=url)
    session.acme._post(url, inner)


def explain(error: Exception, directory_url: str, acme_timeout: float) -> str:
    """One message for people from whatever the acme library or the network raised."""
    if isinstance(error, acme_errors.TimeoutError):
        return (
            f"The CA did not finish within {acme_timeout:g} s; try again later, or allow "
            "longer (--acme-timeout)."
        )
    if isinstance(error, messages.Error):
        return f"The CA refused the request: {error.detail or error.typ} ({error.code})."
    if isinstance(error, requests.exceptions.SSLError):
        return (
            f"The ACME server {directory_url} has an HTTPS certificate this machine does not "
            "trust; for a test CA give its CA bundle (--ca-bundle FILE)."
        )
    if isinstance(error, requests.RequestException):
        return f"No answer from the ACME server {directory_url} ({type(error).__name__})."
    return f"The ACME server {directory_url} answered something unexpected: {error}"
