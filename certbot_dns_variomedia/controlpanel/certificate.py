"""The facts of an X.509 certificate that an audit reports, and whether it covers a host name.

Kept apart from the probes: DANE, the report and the verdict read certificates without opening
a connection.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID


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


def wildcard_match(pattern: str, host: str) -> bool:
    """RFC 6125 6.4.3 (and the mx patterns of RFC 8461 4.1): a wildcard only as the whole
    left-most label, matching exactly one label. Both in lower case, ACE form."""
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
    return any(wildcard_match(p, wanted) for p in patterns if p)
