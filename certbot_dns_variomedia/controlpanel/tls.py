"""Look at the certificate a mail gateway (STARTTLS on port 25) or an HTTPS host presents.

A probe reports facts, not verdicts: whether TLS was offered, the version, the certificate's
names, issuer, validity and fingerprints, whether the names cover the host, whether the chain
leads to a trusted root. The audit decides what is acceptable.

The chain is verified *without* the validity dates (OpenSSL's NO_CHECK_TIME), so "expired" and
"untrusted" are reported separately; and without OpenSSL's host name check, which is done here
(RFC 6125) so a wrong name is reported, not turned into a failed handshake. When the verified
handshake fails, a second, unverified one fetches the certificate anyway. The SMTP dialogue is
spoken on a raw socket so the TLS handshake can carry the MX host name (SNI) while connecting
to one particular address of it, and so nothing the server sends before the handshake is
silently accepted (STARTTLS command injection).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

UTC = datetime.timezone.utc

DEFAULT_TIMEOUT = 10.0
"""Seconds for connecting and for each read of a probe."""

_NO_CHECK_TIME = 0x200000  # X509_V_FLAG_NO_CHECK_TIME: ssl has no name for it
_MAX_REPLY_BYTES = 65_536


@dataclass(frozen=True)
class Certificate:
    """The facts of one X.509 certificate that an audit reports."""

    subject: str
    issuer: str
    common_name: str
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: str
    sha256: str
    """SHA-256 of the DER certificate, lower-case hex."""
    spki_sha256: str
    """SHA-256 of the DER SubjectPublicKeyInfo (what TLSA ``3 1 1`` publishes)."""
    self_signed: bool
    der: bytes = field(repr=False, compare=False)

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        cert = x509.load_der_x509_certificate(der)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            san_dns = tuple(n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName))
            san_ip = tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            san_dns, san_ip = (), ()
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            common_name=str(cns[0].value) if cns else "",
            san_dns=san_dns,
            san_ip=san_ip,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            serial=format(cert.serial_number, "x"),
            sha256=hashlib.sha256(der).hexdigest(),
            spki_sha256=hashlib.sha256(spki).hexdigest(),
            self_signed=cert.issuer == cert.subject,
            der=der,
        )

    @property
    def spki_der(self) -> bytes:
        """The DER SubjectPublicKeyInfo (TLSA selector 1)."""
        return (
            x509.load_der_x509_certificate(self.der)
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def days_left(self, now: datetime.datetime) -> float:
        """Days until ``not_after`` (negative once expired)."""
        return (self.not_after - now).total_seconds() / 86400

    def names(self) -> tuple[str, ...]:
        """The names the certificate is for (SAN DNS names and addresses; CN if no SAN)."""
        listed = (*self.san_dns, *self.san_ip)
        return listed or ((self.common_name,) if self.common_name else ())


def _label_match(pattern: str, host: str) -> bool:
    """RFC 6125 6.4.3: a wildcard only as the whole left-most label, matching one label."""
    if not pattern.startswith("*."):
        return pattern == host
    suffix = pattern[1:]  # ".example.com"
    head, dot, rest = host.partition(".")
    return bool(head) and bool(dot) and "." + rest == suffix and suffix.count(".") >= 2


def name_matches(cert: Certificate, host: str) -> bool:
    """Whether ``cert`` is valid for ``host`` (a DNS name or an IP address)."""
    wanted = host.strip().rstrip(".").lower()
    try:
        address = ipaddress.ip_address(wanted.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        return any(ipaddress.ip_address(a) == address for a in cert.san_ip)
    try:
        wanted = wanted.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    patterns = cert.san_dns if (cert.san_dns or cert.san_ip) else (cert.common_name.lower(),)
    return any(_label_match(p, wanted) for p in patterns if p)


Kind = Literal["smtp", "https"]


@dataclass(frozen=True)
class TLSProbe:
    """What one connection to one address of one host showed.

    ``connected``: a TCP connection was made. ``starttls``: the SMTP server offered STARTTLS
    (``None`` for HTTPS). ``certificate`` is ``None`` when no handshake succeeded; ``error``
    then says why. ``trusted`` is whether the chain leads to a root of the CA bundle (validity
    dates aside); ``trust_error`` is OpenSSL's reason when not.
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

    @property
    def name_matches(self) -> bool | None:
        """Whether the certificate covers the host name (``None`` without a certificate)."""
        if self.certificate is None:
            return None
        return name_matches(self.certificate, self.host)


class ProbeError(Exception):
    """A probe step failed; the message is the reason shown in the report."""


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


# -- SMTP ------------------------------------------------------------------------------------


class _Lines:
    """Reads SMTP replies from a plain socket, keeping track of bytes read ahead."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.buffer = b""
        # The socket timeout bounds each read; this bounds a server that drips bytes slowly.
        self.deadline = deadline

    def reply(self) -> tuple[int, list[str]]:
        """One (possibly multi-line) reply: its code and the text of each line."""
        lines: list[str] = []
        while True:
            while b"\n" not in self.buffer:
                if len(self.buffer) > _MAX_REPLY_BYTES:
                    raise ProbeError("the SMTP server sent an over-long reply")
                if time.monotonic() > self.deadline:
                    raise ProbeError("the SMTP server is too slow to answer")
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise ProbeError("the SMTP server closed the connection")
                self.buffer += chunk
            raw, _, self.buffer = self.buffer.partition(b"\n")
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if len(line) < 3 or not line[:3].isdigit():
                raise ProbeError(f"the SMTP server sent a malformed reply {line[:60]!r}")
            lines.append(line[4:])
            if len(line) == 3 or line[3] != "-":
                return int(line[:3]), lines
            if len(lines) > 200:
                raise ProbeError("the SMTP server sent an over-long reply")


def _smtp_to_starttls(sock: socket.socket, ehlo_name: str, timeout: float) -> tuple[bool, str]:
    """Greeting, EHLO, STARTTLS: ``(True, banner)`` when TLS may start, ``(False, banner)``
    when STARTTLS is not offered. The whole dialogue takes at most 3 x ``timeout``."""
    reader = _Lines(sock, time.monotonic() + 3 * timeout)
    code, greeting = reader.reply()
    banner = greeting[0] if greeting else ""
    if code != 220:
        raise ProbeError(f"the SMTP server greeted with {code} {banner[:80]!r}")
    sock.sendall(f"EHLO {ehlo_name}\r\n".encode("ascii"))
    code, features = reader.reply()
    if code != 250:
        raise ProbeError(f"the SMTP server answered EHLO with {code}")
    if not any(f.strip().upper().split(" ")[0] == "STARTTLS" for f in features[1:]):
        _quit(sock)
        return False, banner
    sock.sendall(b"STARTTLS\r\n")
    code, text = reader.reply()
    if code != 220:
        raise ProbeError(f"the SMTP server answered STARTTLS with {code} {' '.join(text)[:80]!r}")
    if reader.buffer:
        raise ProbeError(
            "the SMTP server sent data after agreeing to STARTTLS (command injection risk)"
        )
    return True, banner


def _quit(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(b"QUIT\r\n")


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


def _reason(error: BaseException) -> str:
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


class _NoConnection(Exception):
    """The TCP connection itself failed (the message is the reason)."""


@dataclass
class _Session:
    """What the plain-text part of a connection showed."""

    banner: str = ""
    starttls: bool | None = None


def _open(
    kind: Kind,
    *,
    address: str,
    port: int,
    host: str,
    context: ssl.SSLContext,
    timeout: float,
    ehlo_name: str,
    session: _Session,
) -> ssl.SSLSocket | None:
    """Connect, speak SMTP up to STARTTLS if needed, shake hands; ``None``: no STARTTLS."""
    try:
        sock = _connect(address, port, timeout)
    except OSError as error:
        raise _NoConnection(_reason(error)) from None
    try:
        if kind == "smtp":
            session.starttls, session.banner = _smtp_to_starttls(sock, ehlo_name, timeout)
            if not session.starttls:
                sock.close()
                return None
        return context.wrap_socket(sock, server_hostname=_server_name(host))
    except BaseException:
        sock.close()
        raise


def _finish(tls: ssl.SSLSocket, kind: Kind) -> tuple[bytes, str | None, str | None]:
    """The peer's certificate, TLS version and cipher; then a polite goodbye."""
    try:
        der = tls.getpeercert(binary_form=True) or b""
        version = tls.version()
        cipher = tls.cipher()
        if kind == "smtp":
            _quit(tls)
    finally:
        tls.close()
    return der, version, cipher[0] if cipher else None


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
    session = _Session()

    def connect(context: ssl.SSLContext) -> ssl.SSLSocket | None:
        return _open(
            kind,
            address=address,
            port=port,
            host=host,
            context=context,
            timeout=timeout,
            ehlo_name=name,
            session=session,
        )

    def unreachable(error: _NoConnection) -> TLSProbe:
        return dataclasses.replace(base, error=f"cannot connect: {error}")

    def broken(error: OSError | ProbeError) -> TLSProbe:
        return dataclasses.replace(
            base,
            connected=True,
            starttls=session.starttls,
            banner=session.banner,
            error=_reason(error),
        )

    trusted, trust_error = True, None
    tls: ssl.SSLSocket | None
    try:
        tls = connect(verifying_context(ca_bundle))
    except _NoConnection as error:
        return unreachable(error)
    except ssl.SSLCertVerificationError as error:
        trusted, trust_error = False, _reason(error)
    except ssl.SSLError as error:
        # Perhaps a version or cipher that a verifying client refuses: look anyway.
        trusted = False
        trust_error = f"a verifying client cannot complete the handshake ({_reason(error)})"
    except (OSError, ProbeError) as error:
        return broken(error)
    if not trusted:
        try:
            tls = connect(probing_context())
        except _NoConnection as error:
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
    try:
        der, version, cipher = _finish(tls, kind)
        certificate = Certificate.from_der(der) if der else None
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
