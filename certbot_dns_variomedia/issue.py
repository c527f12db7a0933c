"""Certificates from Python: one whole ACME order with the ``acme`` library, DNS-01 at Variomedia.

For scripts and programs that want a certificate without certbot::

    from .credentials import load_variomedia_credentials
    from .issue import obtain_certificate

    cert = obtain_certificate(
        ["example.de", "*.example.de"],
        credentials=load_variomedia_credentials("/etc/letsencrypt/variomedia.ini"),
        account_key=open("account-key.pem", "rb").read(),
        agree_tos=True,
    )
    cert.private_key_pem, cert.fullchain_pem

The challenges take the plugin's own path (`core.run.ChallengeRun`): every record of the
order written in one batch, one wait for queue jobs and every authoritative name server, and
only then the CA is asked to validate — so a slow name server costs time, never a failed
validation. The records are removed whatever happens, and nothing is answered to the CA when
the records could not be shown: pending authorizations are deactivated instead.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import requests
from acme import challenges as acme_challenges
from acme import client as acme_client
from acme import crypto_util as acme_crypto
from acme import errors as acme_errors
from acme import messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.errors import DeserializationError
from josepy.jwa import ES256, ES384, ES512, RS256, JWASignature
from josepy.jwk import JWK, JWKEC, JWKRSA
from requests.adapters import HTTPAdapter

from . import __version__
from .clock import SYSTEM_CLOCK, Clock
from .core.run import ChallengeRun, Settings
from .core.state import StateFile
from .core.zones import identifier_name
from .credentials import VariomediaCredentials
from .errors import ConfigurationError, VariomediaError
from .names import to_unicode
from .paths import default_state_file
from .resolver import Resolver

logger = logging.getLogger(__name__)

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
USER_AGENT = f"certbot-dns-variomedia/{__version__} (variomedia-dns issue)"
DEFAULT_ACME_TIMEOUT = 90.0
KeyType = Literal["ecdsa", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
CURVES: dict[str, type[ec.EllipticCurve]] = {"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1}
RSA_KEY_SIZES = (2048, 3072, 4096)
_JWS_ALGORITHMS = {"secp256r1": ES256, "secp384r1": ES384, "secp521r1": ES512}

Notify = Callable[[str], None]


class CertificateError(VariomediaError):
    """The CA refused the order or failed it: no certificate was issued."""


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and what belongs with it, all PEM."""

    names: tuple[str, ...]  # the certificate's DNS names, as the CA wrote them
    cert_pem: bytes  # the leaf alone
    chain_pem: bytes  # the intermediates
    fullchain_pem: bytes  # leaf + intermediates, what servers want
    not_after: datetime.datetime
    private_key_pem: bytes | None = field(default=None, repr=False)  # None: a CSR was given


# -- keys ------------------------------------------------------------------------------------


def generate_key(
    key_type: KeyType = "ecdsa", *, rsa_key_size: int = 2048, elliptic_curve: str = "secp256r1"
) -> PrivateKey:
    """A fresh private key; ECDSA P-256 unless told otherwise."""
    if key_type == "rsa":
        if rsa_key_size not in RSA_KEY_SIZES:
            raise ConfigurationError(
                f"RSA key size {rsa_key_size} is not accepted; use one of {RSA_KEY_SIZES}."
            )
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
    if key_type != "ecdsa":
        raise ConfigurationError(f"Key type {key_type!r} is unknown; use 'ecdsa' or 'rsa'.")
    curve = CURVES.get(elliptic_curve)
    if curve is None:
        raise ConfigurationError(
            f"Curve {elliptic_curve!r} is not accepted; use one of {', '.join(CURVES)}."
        )
    return ec.generate_private_key(curve())


def key_to_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (files holding it are made 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def account_jwk(pem: bytes) -> tuple[JWK, JWASignature]:
    """The ACME account key and the signature algorithm that goes with it."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(
            "The ACME account key is not an unencrypted PEM private key."
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        return JWKRSA(key=key), RS256
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _JWS_ALGORITHMS:
        return JWKEC(key=key), _JWS_ALGORITHMS[key.curve.name]
    raise ConfigurationError(
        "The ACME account key must be an RSA key or an ECDSA key on P-256, P-384 or P-521."
    )


# -- names -----------------------------------------------------------------------------------


def certificate_names(domains: Sequence[str]) -> list[str]:
    """ACE names, wildcards kept, duplicates dropped; invalid names fail before any request."""
    names: list[str] = []
    for domain in domains:
        wildcard = domain.strip().startswith("*.")
        name = ("*." if wildcard else "") + identifier_name(domain)
        if name not in names:
            names.append(name)
    if not names:
        raise ConfigurationError("No domain names given; give at least one (-d example.de).")
    return names


def csr_names(csr_pem: bytes) -> list[str]:
    """The DNS names a CSR asks for (DNS-01 cannot validate IP addresses)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise ConfigurationError("The CSR is not a PEM certificate signing request.") from None
    dns_names, addresses = acme_crypto.get_identifiers_from_x509(csr.subject, csr.extensions)
    if addresses:
        raise ConfigurationError("The CSR names IP addresses; DNS-01 validates domain names only.")
    return certificate_names(dns_names)


# -- the ACME conversation ---------------------------------------------------------------------


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


def _deadline(seconds: float) -> datetime.datetime:
    # The acme library compares with naive local time.
    return datetime.datetime.now() + datetime.timedelta(seconds=seconds)


def _register(acme: acme_client.ClientV2, *, email: str | None, agree_tos: bool) -> None:
    """Use the account of this key, creating it (and agreeing to the terms) only if needed."""
    terms = acme.directory.meta.terms_of_service
    try:
        if terms and not agree_tos:
            try:
                acme.new_account(messages.NewRegistration(only_return_existing=True))
            except messages.Error as e:
                if e.code != "accountDoesNotExist":
                    raise
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


@dataclass
class _Pending:
    name: str  # as validated: "*.example.de" for the wildcard's authorization
    authzr: messages.AuthorizationResource
    challb: messages.ChallengeBody
    dns01: acme_challenges.DNS01


def _pending_challenges(order: messages.OrderResource) -> list[_Pending]:
    pending = []
    for authzr in order.authorizations:
        body = authzr.body
        if body.status == messages.STATUS_VALID:
            continue  # validated recently for this account: nothing to do
        name = ("*." if body.wildcard else "") + str(body.identifier.value)
        for challb in body.challenges:
            if isinstance(challb.chall, acme_challenges.DNS01):
                pending.append(_Pending(name, authzr, challb, challb.chall))
                break
        else:
            raise CertificateError(f"The CA offers no dns-01 challenge for {name}.")
    return pending


def _deactivate(acme: acme_client.ClientV2, pending: Sequence[_Pending]) -> None:
    """Politeness to the CA: authorizations we will not answer do not linger as pending."""
    for item in pending:
        with contextlib.suppress(acme_errors.Error, requests.RequestException):
            acme.deactivate_authorization(item.authzr)


def _validate(
    acme: acme_client.ClientV2,
    order: messages.OrderResource,
    run: ChallengeRun,
    *,
    jwk: JWK,
    acme_timeout: float,
    notify: Notify,
) -> messages.OrderResource:
    """Plan → present → wait → answer → poll, with the records removed in every case."""
    pending = _pending_challenges(order)
    if not pending:
        return order
    answered = False
    try:
        run.sweep()
        placements = run.plan([p.name for p in pending])
        run.present(
            [(pl, p.dns01.validation(jwk)) for pl, p in zip(placements, pending, strict=True)]
        )
        run.wait()
        notify(f"Asking the CA to validate {len(pending)} challenge(s)")
        for item in pending:
            acme.answer_challenge(item.challb, item.dns01.response(jwk))
        answered = True
        return acme.poll_authorizations(order, _deadline(acme_timeout))
    except BaseException:
        if not answered:
            _deactivate(acme, pending)
        raise
    finally:
        for problem in run.remove():
            logger.warning(
                "Could not remove a challenge record: %s. It is listed in %s and the next run "
                "removes it.",
                problem,
                run.state.path,
            )


def _split(fullchain_pem: str, key_pem: bytes | None, key: PrivateKey | None) -> IssuedCertificate:
    certificates = x509.load_pem_x509_certificates(fullchain_pem.encode())
    leaf, chain = certificates[0], certificates[1:]
    if key is not None:
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if leaf.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            raise CertificateError("The CA returned a certificate for another key; not using it.")
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    cert_pem = leaf.public_bytes(serialization.Encoding.PEM)
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    return IssuedCertificate(
        names=tuple(san.get_values_for_type(x509.DNSName)),
        cert_pem=cert_pem,
        chain_pem=chain_pem,
        fullchain_pem=cert_pem + chain_pem,
        not_after=leaf.not_valid_after_utc,
        private_key_pem=key_pem,
    )


def _explain(error: Exception, directory_url: str, acme_timeout: float) -> str:
    """One message for people from whatever the acme library or the network raised."""
    if isinstance(error, acme_errors.ValidationError):
        failures = []
        for authzr in error.failed_authzrs:
            details = [
                str(c.error.detail or c.error.typ) for c in authzr.body.challenges if c.error
            ]
            failures.append(f"{authzr.body.identifier.value}: {'; '.join(details) or 'invalid'}")
        return (
            f"The CA could not validate {', '.join(failures)}. Every authoritative name server "
            "showed the records before validation began; check that no other server answers "
            "for the domain: variomedia-dns doctor DOMAIN"
        )
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


def obtain_certificate(
    domains: Sequence[str],
    *,
    credentials: VariomediaCredentials,
    directory_url: str = LETSENCRYPT_PRODUCTION,
    account_key: bytes | None = None,
    email: str | None = None,
    agree_tos: bool = False,
    key_type: KeyType = "ecdsa",
    rsa_key_size: int = 2048,
    elliptic_curve: str = "secp256r1",
    csr_pem: bytes | None = None,
    ca_bundle: str | None = None,
    state_file: StateFile | None = None,
    settings: Settings | None = None,
    resolver: Resolver | None = None,
    acme_timeout: float = DEFAULT_ACME_TIMEOUT,
    notify: Notify = logger.info,
    clock: Clock = SYSTEM_CLOCK,
) -> IssuedCertificate:
    """Run one ACME order for `domains` with DNS-01 at Variomedia; return key and full chain.

    `account_key`: PEM of the ACME account's key (``None``: a new key and account for this
    order only). `agree_tos`: needed once, to create an account at a CA with terms of service.
    `csr_pem`: finalize with this CSR (its names are used when `domains` is empty) instead of a
    fresh key of `key_type`. `ca_bundle`: verify the ACME server's HTTPS with this PEM file
    (test CAs such as Pebble; ``REQUESTS_CA_BUNDLE`` works too). `settings`, `state_file`
    and `resolver` are the plugin's (defaults: its defaults, the command's state file, the
    system's resolver). Raises `CertificateError` (the CA) or another `VariomediaError`.
    """
    settings = settings or Settings()
    key: PrivateKey | None = None
    key_pem: bytes | None = None
    if csr_pem is not None:
        names = csr_names(csr_pem)
        if domains and certificate_names(domains) != names:
            raise ConfigurationError(
                f"The CSR asks for {', '.join(names)}, not for the domains given; give either."
            )
    else:
        names = certificate_names(domains)
        key = generate_key(key_type, rsa_key_size=rsa_key_size, elliptic_curve=elliptic_curve)
        key_pem = key_to_pem(key)
        csr_pem = acme_crypto.make_csr(key_pem, names)
    jwk, alg = account_jwk(account_key or key_to_pem(generate_key("ecdsa")))
    net = acme_client.ClientNetwork(jwk, alg=alg, user_agent=USER_AGENT)
    if ca_bundle is not None:
        net.session.mount("https://", _TrustAdapter(ca_bundle))
    run = ChallengeRun.open(
        credentials,
        state_file or StateFile(default_state_file()),
        settings,
        resolver=resolver,
        clock=clock,
        notify=notify,
    )
    try:
        acme = acme_client.ClientV2(acme_client.ClientV2.get_directory(directory_url, net), net)
        _register(acme, email=email, agree_tos=agree_tos)
        notify(f"Ordering a certificate for {', '.join(map(to_unicode, names))}")
        order = acme.new_order(csr_pem)
        order = _validate(acme, order, run, jwk=jwk, acme_timeout=acme_timeout, notify=notify)
        notify("Validated; finalizing the order")
        order = acme.finalize_order(order, _deadline(acme_timeout))
    except (acme_errors.Error, requests.RequestException, DeserializationError) as e:
        raise CertificateError(_explain(e, directory_url, acme_timeout)) from None
    finally:
        run.close()
        net.session.close()
    return _split(order.fullchain_pem, key_pem, key)
