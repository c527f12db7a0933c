"""Look at the certificate a mail gateway (STARTTLS on port 25) or an HTTPS host presents.

A probe reports facts, not verdicts: whether TLS was offered, the version, the certificate's
names, issuer, validity and fingerprints, whether the names cover the host, whether the chain
leads to a trusted root. The audit decides what is acceptable.

The chain is verified *without* the validity dates (OpenSSL's NO_CHECK_TIME), so "expired" and
"untrusted" are reported separately; and without OpenSSL's host name check, which is done here
(RFC 6125) so a wrong name is reported, not turned into a failed handshake. When the verified
handshake fails, a second, unverified one fetches the certificate anyway. The SMTP part of the
dialogue is in ``starttls``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .certificate import Certificate, name_matches
from .starttls import ProbeError, quit_smtp, smtp_to_starttls

DEFAULT_TIMEOUT = 10.0
"""Seconds for connecting and for each read of a probe."""

_NO_CHECK_TIME = 0x200000  # X509_V_FLAG_NO_CHECK_TIME: ssl has no name for it
_ENCODING_DER = 2  # _ssl.ENCODING_DER, for the certificate objects of the private chain API


Kind = Literal["smtp", "https"]


@dataclass(frozen=True)
class TLSProbe:
    """What one connection to one address of one host showed.

    ``connected``: a TCP connection was made. ``starttls``: the SMTP server offered STARTTLS
    (``None`` for HTTPS). ``certificate`` is ``None`` when no handshake succeeded; ``error``
    then says why. ``trusted`` is whether the chain leads to a root of the CA bundle (validity
    dates aside); ``trust_error`` is OpenSSL's reason when not. ``chain`` holds the
    certificates the server sent after its own, as sent (DANE-TA matches them); ``None`` when
    this Python cannot show them. ``old_versions`` says whether TLS 1.0 and 1.1 are still
    accepted (``old_versions.probe_old_versions``; empty when not asked).
    """

    kind: Kind
    host: str
    address: str
    port: int
    connected: bool
    starttls: bool | None = None
    tls_version: str | None = None
    cipher: str | None = None
    certificate: Certificate | None = None
    trusted: bool | None = None
    trust_error: str | None = None
    error: str | None = None
    banner: str = ""
    chain: tuple[Certificate, ...] | None = ()
    old_versions: tuple[OldVersion, ...] = ()

    @property
    def name_matches(self) -> bool | None:
        """Whether the certificate covers the host name (``None`` without a certificate)."""
        if self.certificate is None:
            return None
        return name_matches(self.certificate, self.host)


# -- contexts --------------------------------------------------------------------------------


def verifying_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Chain verification against ``ca_bundle`` (or the system's roots), dates and names aside."""
    context = ssl.create_default_context(cafile=ca_bundle)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= _NO_CHECK_TIME
    return context


def probing_context() -> ssl.SSLContext:
    """No verification at all, and old versions allowed: to see whatever the server presents."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with contextlib.suppress(ssl.SSLError):  # OpenSSL builds without security levels
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


# -- probes ----------------------------------------------------------------------------------


def _connect(address: str, port: int, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    return sock


def failure_reason(error: BaseException) -> str:
    """A short phrase for the report: what went wrong with a connection or handshake."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return str(error.verify_message or error.reason or error)
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed: {error.reason or error}"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError):
        return error.strerror or str(error) or type(error).__name__
    return str(error)


def _server_name(host: str) -> str | None:
    """The SNI name: the host name, never an address (TLS forbids addresses in SNI)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.rstrip(".")
    return None


class NoConnection(Exception):
    """The TCP connection itself failed (the message is the reason)."""


@dataclass
class Session:
    """What the plain-text part of a connection showed."""

    banner: str = ""
    starttls: bool | None = None


def open_tls(
    kind: Kind,
    *,
    address: str,
    port: int,
    host: str,
    context: ssl.SSLContext,
    timeout: float,
    ehlo_name: str,
    session: Session,
) -> ssl.SSLSocket | None:
    """Connect, speak SMTP up to STARTTLS if needed, shake hands; ``None``: no STARTTLS."""
    try:
        sock = _connect(address, port, timeout)
    except OSError as error:
        raise NoConnection(failure_reason(error)) from None
    try:
        if kind == "smtp":
            session.starttls, session.banner = smtp_to_starttls(sock, ehlo_name, timeout)
            if not session.starttls:
                sock.close()
                return None
        return context.wrap_socket(sock, server_hostname=_server_name(host))
    except BaseException:
        sock.close()
        raise


@dataclass(frozen=True)
class OldVersion:
    """Whether a server accepts one old TLS version: ``accepted`` (``detail``: the cipher),
    ``refused`` (``detail``: how), or ``not tested`` (``detail``: why not)."""

    version: str
    outcome: Literal["accepted", "refused", "not tested"]
    detail: str


def presented_chain(tls: ssl.SSLSocket) -> tuple[bytes, ...] | None:
    """The DER certificates the server sent, its own first; ``None`` if Python cannot tell.

    Python 3.13 has ``SSLSocket.get_unverified_chain()``; 3.10 to 3.12 have the same method on
    the private ``_sslobj`` (returning certificate objects rather than bytes).
    """
    getter = getattr(tls, "get_unverified_chain", None) or getattr(
        getattr(tls, "_sslobj", None), "get_unverified_chain", None
    )
    if getter is None:
        return None
    ders = []
    for cert in getter() or ():
        ders.append(cert if isinstance(cert, bytes) else cert.public_bytes(_ENCODING_DER))
    return tuple(ders)


def _finish(
    tls: ssl.SSLSocket, kind: Kind
) -> tuple[bytes, str | None, str | None, tuple[bytes, ...] | None]:
    """The peer's certificate, TLS version, cipher and chain; then a polite goodbye."""
    try:
        der = tls.getpeercert(binary_form=True) or b""
        version = tls.version()
        cipher = tls.cipher()
        chain = presented_chain(tls)
        if kind == "smtp":
            quit_smtp(tls)
    finally:
        tls.close()
    return der, version, cipher[0] if cipher else None, chain


def probe(
    kind: Kind,
    host: str,
    address: str,
    port: int,
    *,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ehlo_name: str | None = None,
) -> TLSProbe:
    """Connect to ``address:port`` as ``host`` and report its TLS and certificate.

    Never raises for network, SMTP or TLS trouble: the result's ``error`` says what happened.
    """
    name = ehlo_name or socket.gethostname() or "cp-audit.invalid"
    base = TLSProbe(kind=kind, host=host, address=address, port=port, connected=False)
    session = Session()

    def connect(context: ssl.SSLContext) -> ssl.SSLSocket | None:
        return open_tls(
            kind,
            address=address,
            port=port,
            host=host,
            context=context,
            timeout=timeout,
            ehlo_name=name,
            session=session,
        )

    def unreachable(error: NoConnection) -> TLSProbe:
        return dataclasses.replace(base, error=f"cannot connect: {error}")

    def broken(error: OSError | ProbeError) -> TLSProbe:
        return dataclasses.replace(
            base,
            connected=True,
            starttls=session.starttls,
            banner=session.banner,
            error=failure_reason(error),
        )

    trusted, trust_error = True, None
    tls: ssl.SSLSocket | None
    try:
        tls = connect(verifying_context(ca_bundle))
    except NoConnection as error:
        return unreachable(error)
    except ssl.SSLCertVerificationError as error:
        trusted, trust_error = False, failure_reason(error)
    except ssl.SSLError as error:
        # Perhaps a version or cipher that a verifying client refuses: look anyway.
        trusted = False
        trust_error = f"a verifying client cannot complete the handshake ({failure_reason(error)})"
    except (OSError, ProbeError) as error:
        return broken(error)
    if not trusted:
        try:
            tls = connect(probing_context())
        except NoConnection as error:
            return unreachable(error)
        except (OSError, ProbeError) as error:
            return broken(error)
    if tls is None:
        return dataclasses.replace(
            base,
            connected=True,
            starttls=False,
            banner=session.banner,
            error="the server does not offer STARTTLS",
        )
    chain: tuple[Certificate, ...] | None = ()
    try:
        der, version, cipher, chain_ders = _finish(tls, kind)
        certificate = Certificate.from_der(der) if der else None
        if chain_ders is None:
            chain = None
        else:
            chain = tuple(Certificate.from_der(d) for d in chain_ders[1:])
    except (OSError, ValueError) as error:
        certificate, version, cipher = None, None, None
        problem = f"cannot read the certificate: {error}"
    else:
        problem = "the server presented no certificate"
    return TLSProbe(
        kind=kind,
        host=host,
        address=address,
        port=port,
        connected=True,
        starttls=True if kind == "smtp" else None,
        tls_version=version,
        cipher=cipher,
        certificate=certificate,
        trusted=trusted if certificate is not None else None,
        trust_error=trust_error if certificate is not None else None,
        error=None if certificate is not None else problem,
        banner=session.banner,
        chain=chain,
    )


def probe_smtp(
    host: str,
    address: str,
    *,
    port: int = 25,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ehlo_name: str | None = None,
) -> TLSProbe:
    """STARTTLS on ``address:port`` for the MX host ``host``."""
    return probe(
        "smtp", host, address, port, ca_bundle=ca_bundle, timeout=timeout, ehlo_name=ehlo_name
    )


def probe_https(
    host: str,
    address: str,
    *,
    port: int = 443,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> TLSProbe:
    """The TLS handshake of an HTTPS server ``host`` at ``address:port``."""
    return probe("https", host, address, port, ca_bundle=ca_bundle, timeout=timeout)


def probe_all(
    kind: Kind,
    host: str,
    addresses: Sequence[str],
    port: int,
    *,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[TLSProbe]:
    """One probe per address, in order."""
    return [probe(kind, host, a, port, ca_bundle=ca_bundle, timeout=timeout) for a in addresses]
