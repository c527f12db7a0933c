"""Certificates from Python: one whole ACME order with the ``acme`` library, with dns-01 at
Variomedia or with a standing dns-persist-01 record.

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

``challenge="dns-persist-01"`` answers with the record at ``_validation-persist.<name>`` that
names this account and the CA: when it stands, the order makes no Variomedia request and needs
no credentials; when it is missing and credentials are given, it is set first, once.
``"auto"`` answers dns-persist-01 where such a record stands and dns-01 elsewhere. The parts:
`issuing.keys` (keys, names), `issuing.session` (the CA), `issuing.persist_plan` (which name
gets which challenge), `issuing.validate` (answering) and `issuing.certificate` (the result).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import requests
from acme import crypto_util as acme_crypto
from acme import errors as acme_errors
from acme import messages
from josepy.errors import DeserializationError

from .acme_trust import check_authorizations
from .clock import SYSTEM_CLOCK, Clock
from .core.persist import MalformedRecord, normalize_issuer
from .core.persist_lookup import authoritative_servers, look_up
from .core.persist_write import set_records
from .core.run import ChallengeRun
from .core.settings import Settings
from .core.state import StateFile
from .credentials import VariomediaCredentials
from .errors import ConfigurationError
from .issuing.authorizations import ChallengeType, Pending, abandon, pending
from .issuing.certificate import IssuedCertificate, split_chain
from .issuing.dns_persist import TYPE as PERSIST_TYPE
from .issuing.dns_persist import issuer_names
from .issuing.keys import (
    KeyType,
    PrivateKey,
    certificate_names,
    csr_names,
    generate_key,
    key_to_pem,
)
from .issuing.persist_plan import CHOICES, Choice, PersistPlan, plan_persist
from .issuing.session import (
    DEFAULT_ACME_TIMEOUT,
    LETSENCRYPT_PRODUCTION,
    LETSENCRYPT_STAGING,
    CertificateError,
    Session,
    deadline,
    explain,
    open_session,
    register,
)
from .issuing.validate import validate
from .names import to_unicode
from .paths import default_state_file
from .resolver import Resolver

__all__ = [
    "DEFAULT_ACME_TIMEOUT",
    "LETSENCRYPT_PRODUCTION",
    "LETSENCRYPT_STAGING",
    "CertificateError",
    "Choice",
    "IssuedCertificate",
    "obtain_certificate",
]

logger = logging.getLogger(__name__)

Notify = Callable[[str], None]


class _Writer:
    """The Variomedia side of an order, opened only when something must be written: an order
    answered by standing dns-persist-01 records never makes a client."""

    def __init__(
        self,
        credentials: VariomediaCredentials | None,
        *,
        resolver: Resolver,
        state_file: StateFile | None,
        settings: Settings,
        clock: Clock,
        notify: Notify,
    ) -> None:
        self.credentials = credentials
        self.resolver = resolver
        self.state_file = state_file
        self.settings = settings
        self.clock = clock
        self.notify = notify
        self._run: ChallengeRun | None = None

    def run(self) -> ChallengeRun:
        if self._run is None:
            if self.credentials is None:
                raise ConfigurationError(
                    "dns-01 writes challenge records at Variomedia: give Variomedia credentials "
                    "(--credentials FILE or $VARIOMEDIA_API_TOKEN), or set dns-persist-01 "
                    "records (variomedia-dns persist set) and use --challenge dns-persist-01."
                )
            self._run = ChallengeRun.open(
                self.credentials,
                self.state_file or StateFile(default_state_file()),
                self.settings,
                resolver=self.resolver,
                clock=self.clock,
                notify=self.notify,
            )
        return self._run

    def close(self) -> None:
        if self._run is not None:
            self._run.close()


def _request(
    domains: Sequence[str],
    csr_pem: bytes | None,
    key_type: KeyType,
    rsa_key_size: int,
    elliptic_curve: str,
) -> tuple[list[str], bytes, PrivateKey | None, bytes | None]:
    """The names, the CSR, and the key made for it with its PEM (None when the caller gave
    the CSR)."""
    if csr_pem is not None:
        names = csr_names(csr_pem)
        if domains and certificate_names(domains) != names:
            raise ConfigurationError(
                f"The CSR asks for {', '.join(names)}, not for the domains given; give either."
            )
        return names, csr_pem, None, None
    names = certificate_names(domains)
    key = generate_key(key_type, rsa_key_size=rsa_key_size, elliptic_curve=elliptic_curve)
    key_pem = key_to_pem(key)
    return names, acme_crypto.make_csr(key_pem, names), key, key_pem


def _plan(
    names: Sequence[str],
    issuers: Sequence[str],
    session: Session,
    writer: _Writer,
    choice: Choice,
) -> PersistPlan:
    """Judge what every name server shows, and set the missing records (once) if allowed."""
    statuses = look_up(
        names,
        resolver=writer.resolver,
        servers_for=authoritative_servers(writer.resolver, writer.settings.nameservers),
        issuers=issuers,
        account_uri=session.account_uri,
        now=writer.clock.time(),
    )
    plan = plan_persist(
        statuses,
        choice=choice,
        issuers=issuers,
        account_uri=session.account_uri,
        can_write=writer.credentials is not None,
    )
    if plan.to_set:
        shown = ", ".join(to_unicode(n) for n in plan.to_set)
        writer.notify(f"Setting the dns-persist-01 record of {shown} (once: renewals reuse it)")
        set_records(writer.run(), plan.to_set)
    if choice == "auto" and len(plan.persist) < len(names):
        writer.run()  # dns-01 answers the rest: fail before the order without credentials
    return plan


def _directory_issuers(session: Session) -> tuple[str, ...]:
    """The CA's issuer domain names from its directory (``caaIdentities``), normalised."""
    try:
        return tuple(normalize_issuer(i) for i in session.caa_identities)
    except MalformedRecord as e:
        raise CertificateError(
            f"The CA's directory lists a bad caaIdentities entry: {e}."
        ) from None


def _challenge_issuers(order: messages.OrderResource) -> tuple[str, ...] | None:
    """The issuer domain names of the order's first dns-persist-01 challenge, if any."""
    for authzr in order.authorizations:
        for challb in authzr.body.challenges:
            if challb.chall.typ == PERSIST_TYPE:
                return _checked_issuers(challb, str(authzr.body.identifier.value))
    return None


def _checked_issuers(challb: messages.ChallengeBody, name: str) -> tuple[str, ...]:
    try:
        return issuer_names(challb.chall)
    except MalformedRecord as e:
        raise CertificateError(
            f"The CA's dns-persist-01 challenge for {to_unicode(name)} is malformed: {e}. "
            "Nothing was answered; tell the CA, or use --challenge dns-01."
        ) from None


def _choose(
    order: messages.OrderResource,
    *,
    plan: PersistPlan | None,
    session: Session,
    writer: _Writer,
    choice: Choice,
    names: Sequence[str],
) -> list[Pending]:
    """The challenge of every authorization; a dns-persist-01 one only when its issuer
    domain names are well formed and include the one the record names."""
    if choice == "dns-01":
        return pending(order, lambda name: "dns-01")
    if plan is None:  # the directory names no issuer: the challenges do
        issuers = _challenge_issuers(order)
        if issuers is not None:
            plan = _plan(names, issuers, session, writer, choice)
    fallback: ChallengeType = "dns-01" if choice == "auto" else "dns-persist-01"
    items = pending(order, plan.kind if plan is not None else lambda name: fallback)
    for item in items:
        if item.kind == "dns-01":
            writer.run()  # credentials are needed now, before anything is answered
            continue
        allowed = _checked_issuers(item.challb, item.name)
        named = plan.issuer_of.get(item.name) if plan is not None else None
        if named is not None and named not in allowed:
            raise CertificateError(
                f"The CA's dns-persist-01 challenge for {to_unicode(item.name)} accepts records "
                f"naming {', '.join(allowed)}, not {named}: set the record with "
                f"--issuer {allowed[0]}."
            )
    return items


def obtain_certificate(
    domains: Sequence[str],
    *,
    credentials: VariomediaCredentials | None = None,
    challenge: Choice = "dns-01",
    issuer: str | None = None,
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
    """Run one ACME order for `domains`; return key and full chain.

    `challenge`: ``"dns-01"`` (records written at Variomedia for the order, `credentials`
    needed), ``"dns-persist-01"`` (standing records; `credentials` only to set a missing one)
    or ``"auto"``. `issuer`: the CA's issuer domain name for dns-persist-01 records (default:
    its directory's ``caaIdentities``, else its challenges'). `account_key`: PEM of the ACME
    account's key (``None``: a new key and account for this order only; a dns-persist-01
    record names one account, so give the key it names). `agree_tos`: needed once, to create
    an account at a CA with terms of service. `csr_pem`: finalize with this CSR (its names are
    used when `domains` is empty) instead of a fresh key of `key_type`. `ca_bundle`: verify
    the ACME server's HTTPS with this PEM file (test CAs; ``REQUESTS_CA_BUNDLE`` works too).
    `settings`, `state_file` and `resolver` are the plugin's (defaults: its defaults, the
    command's state file, the system's resolver). Raises `CertificateError` (the CA) or
    another `VariomediaError`.
    """
    if challenge not in CHOICES:
        raise ConfigurationError(
            f"challenge must be one of {', '.join(CHOICES)}, not {challenge!r}."
        )
    settings = settings or Settings()
    names, csr, key, key_pem = _request(domains, csr_pem, key_type, rsa_key_size, elliptic_curve)
    if challenge == "dns-01" and credentials is None:
        raise ConfigurationError(
            "dns-01 needs Variomedia credentials (--credentials FILE or $VARIOMEDIA_API_TOKEN)."
        )
    chosen_issuer = None
    if issuer is not None:
        try:
            chosen_issuer = normalize_issuer(issuer)
        except MalformedRecord as e:
            raise ConfigurationError(f"--issuer: {e}.") from None
    resolver = resolver or Resolver(bootstrap=settings.nameservers)
    writer = _Writer(
        credentials,
        resolver=resolver,
        state_file=state_file,
        settings=settings,
        clock=clock,
        notify=notify,
    )
    session: Session | None = None
    try:
        session = open_session(
            directory_url, account_key or key_to_pem(generate_key("ecdsa")), ca_bundle=ca_bundle
        )
        register(session.acme, email=email, agree_tos=agree_tos)
        plan = None
        if challenge != "dns-01":
            issuers = (chosen_issuer,) if chosen_issuer else _directory_issuers(session)
            if issuers:
                plan = _plan(names, issuers, session, writer, challenge)
        notify(f"Ordering a certificate for {', '.join(map(to_unicode, names))}")
        order = session.acme.new_order(csr)
        check_authorizations(order, names)
        try:
            items = _choose(
                order, plan=plan, session=session, writer=writer, choice=challenge, names=names
            )
        except BaseException:
            abandon(session.acme, order)
            raise
        hint = f"variomedia-dns persist check -d {' -d '.join(names)} --server {directory_url}"
        validate(
            session.acme,
            items,
            run=writer.run() if any(i.kind == "dns-01" for i in items) else None,
            jwk=session.jwk,
            timeout=acme_timeout,
            notify=notify,
            persist_hint=hint,
            clock=clock,
        )
        notify("Validated; finalizing the order")
        order = session.acme.finalize_order(order, deadline(acme_timeout))
    except (acme_errors.Error, requests.RequestException, DeserializationError) as e:
        raise CertificateError(explain(e, directory_url, acme_timeout)) from None
    finally:
        writer.close()
        if session is not None:
            session.close()
    return split_chain(order.fullchain_pem, key_pem, key)
