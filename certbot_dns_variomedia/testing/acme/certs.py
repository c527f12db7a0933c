"""Certificates for tests: a throw-away CA, leaf certificates, PEM files on disk.

Pebble from Debian ships no HTTPS certificate, and the audit tests need TLS servers whose
certificates are expired, about to expire, for the wrong names or self-signed. Everything here
is made fresh per test run (EC P-256 by default, which takes microseconds) so no key material is
ever checked in and no test depends on a certificate that ages.

Typical use::

    ca = CertificateAuthority.create(tmp_path, name="Test CA")
    leaf = ca.issue(["localhost", "127.0.0.1"])        # leaf.fullchain_path, leaf.key_path
    old = ca.issue(["mail.example.org"], not_after=utcnow() - timedelta(days=1), filename="old")
    own = self_signed(tmp_path, ["mail.example.org"])

``ca.cert_path`` is the root to trust (e.g. ``REQUESTS_CA_BUNDLE``). Private key files are
written with mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CertificateAuthority",
    "IssuedCert",
    "KeyType",
    "PrivateKey",
    "self_signed",
    "utcnow",
    "write_pem_bundle",
]

KeyType = Literal["ec", "rsa"]
"""``"ec"`` is P-256 (fast, the default); ``"rsa"`` is RSA 2048 for code that must handle both."""

PrivateKey: TypeAlias = "ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey"

_DEFAULT_LIFETIME = datetime.timedelta(days=90)
_CA_LIFETIME = datetime.timedelta(days=3650)
# Backdate the start a little so a certificate made now is valid to a peer whose clock is behind.
_BACKDATE = datetime.timedelta(hours=1)
_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def utcnow() -> datetime.datetime:
    """Now, timezone-aware in UTC: the reference point for ``not_before``/``not_after``."""
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class IssuedCert:
    """A leaf certificate and where its files are.

    ``chain_path`` holds the certificates between the leaf and the root (what a server sends
    besides its own certificate; empty when the root signed the leaf directly, and for a
    self-signed certificate). ``fullchain_path`` is the leaf followed by that chain: the file a
    TLS server is configured with.
    """

    cert_path: Path
    key_path: Path
    chain_path: Path
    fullchain_path: Path
    certificate: x509.Certificate
    private_key: PrivateKey

    @property
    def pem(self) -> str:
        """The leaf certificate in PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


class CertificateAuthority:
    """A CA kept in memory and on disk: a root, or an intermediate below another CA.

    Create a root with :meth:`create`, an intermediate with :meth:`intermediate`, leaf
    certificates with :meth:`issue`.
    """

    def __init__(
        self,
        *,
        directory: Path,
        name: str,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        cert_path: Path,
        key_path: Path,
        parent: CertificateAuthority | None,
    ) -> None:
        self.directory = directory
        self.name = name
        self.certificate = certificate
        self.private_key = private_key
        self.cert_path = cert_path
        self.key_path = key_path
        self.parent = parent

    def __repr__(self) -> str:
        return f"CertificateAuthority(name={self.name!r}, cert_path={str(self.cert_path)!r})"

    @classmethod
    def create(
        cls,
        directory: Path | str,
        *,
        name: str = "certbot-dns-variomedia test CA",
        key_type: KeyType = "ec",
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        filename: str | None = None,
    ) -> CertificateAuthority:
        """Make a self-signed root CA and write ``<filename>.pem`` / ``<filename>-key.pem``.

        ``filename`` defaults to a form of ``name`` that is safe as a file name.
        """
        directory = Path(directory)
        key = _generate_key(key_type)
        subject = _name(name)
        start, end = _validity(not_before, not_after, _CA_LIFETIME)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(start)
            .not_valid_after(end)
        )
        builder = _add_ca_extensions(builder, key, issuer_key=key, path_length=None)
        certificate = builder.sign(key, hashes.SHA256())
        return cls._store(directory, name, certificate, key, filename, parent=None)

    def intermediate(
        self,
        name: str,
        *,
        key_type: KeyType = "ec",
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        filename: str | None = None,
    ) -> CertificateAuthority:
        """Make a CA signed by this one, for tests that need a chain: leaf, intermediate, root."""
        key = _generate_key(key_type)
        start, end = _validity(not_before, not_after, _CA_LIFETIME)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(start)
            .not_valid_after(end)
        )
        builder = _add_ca_extensions(builder, key, issuer_key=self.private_key, path_length=0)
        certificate = builder.sign(self.private_key, hashes.SHA256())
        return CertificateAuthority._store(
            self.directory, name, certificate, key, filename, parent=self
        )

    @property
    def root(self) -> CertificateAuthority:
        """The top of this CA's chain (itself for a root)."""
        ca = self
        while ca.parent is not None:
            ca = ca.parent
        return ca

    @property
    def chain(self) -> list[x509.Certificate]:
        """This CA's certificate and its parents', excluding the root: what a server sends."""
        chain: list[x509.Certificate] = []
        ca: CertificateAuthority | None = self
        while ca is not None and ca.parent is not None:
            chain.append(ca.certificate)
            ca = ca.parent
        return chain

    @property
    def pem(self) -> str:
        """This CA's certificate in PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def issue(
        self,
        names: Sequence[str],
        *,
        common_name: str | None = None,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        key_type: KeyType = "ec",
        filename: str | None = None,
        directory: Path | str | None = None,
    ) -> IssuedCert:
        """Issue a server/client certificate for ``names`` (DNS names and IP addresses).

        ``common_name`` defaults to the first name; pass ``""`` for none. ``not_before`` and
        ``not_after`` are free, so expired or not-yet-valid certificates can be made.
        Files go to ``directory`` (default: the CA's) as ``<filename>.pem``, ``-key.pem``,
        ``-chain.pem``, ``-fullchain.pem``; ``filename`` defaults to the first name.
        """
        key = _generate_key(key_type)
        subject = _leaf_subject(names, common_name) or x509.Name([])
        builder = _leaf_builder(
            names, key, subject=subject, not_before=not_before, not_after=not_after
        )
        builder = builder.issuer_name(self.certificate.subject).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(self.private_key.public_key()),
            critical=False,
        )
        certificate = builder.sign(self.private_key, hashes.SHA256())
        return _write_leaf(
            Path(directory) if directory is not None else self.directory,
            filename or _default_filename(names),
            certificate,
            key,
            self.chain,
        )

    @classmethod
    def _store(
        cls,
        directory: Path,
        name: str,
        certificate: x509.Certificate,
        key: PrivateKey,
        filename: str | None,
        *,
        parent: CertificateAuthority | None,
    ) -> CertificateAuthority:
        base = _check_filename(filename or _slug(name))
        directory.mkdir(parents=True, exist_ok=True)
        cert_path = directory / f"{base}.pem"
        key_path = directory / f"{base}-key.pem"
        write_pem_bundle(cert_path, [certificate])
        _write_key(key_path, key)
        return cls(
            directory=directory,
            name=name,
            certificate=certificate,
            private_key=key,
            cert_path=cert_path,
            key_path=key_path,
            parent=parent,
        )


def self_signed(
    directory: Path | str,
    names: Sequence[str],
    *,
    common_name: str | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    key_type: KeyType = "ec",
    filename: str | None = None,
) -> IssuedCert:
    """A leaf certificate signed by its own key: what an unconfigured server presents.

    It is not a CA (``CA:FALSE``); its chain file is empty and its full chain is the certificate.
    """
    key = _generate_key(key_type)
    # The issuer of a self-signed certificate is its subject, and an issuer may not be empty.
    subject = _leaf_subject(names, common_name) or _name("self-signed")
    builder = _leaf_builder(
        names, key, subject=subject, not_before=not_before, not_after=not_after
    ).issuer_name(subject)
    certificate = builder.sign(key, hashes.SHA256())
    return _write_leaf(
        Path(directory), filename or _default_filename(names), certificate, key, chain=[]
    )


def write_pem_bundle(path: Path | str, certificates: Iterable[x509.Certificate]) -> Path:
    """Write certificates as one PEM file (e.g. a CA bundle for ``REQUESTS_CA_BUNDLE``)."""
    path = Path(path)
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


# ---------------------------------------------------------------------------------------------


def _generate_key(key_type: KeyType) -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"key_type must be 'ec' or 'rsa', not {key_type!r}")


def _serial() -> int:
    # Positive, at most 20 octets (RFC 5280 4.1.2.2), random like a real CA's.
    return secrets.randbits(159) | 1


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(
    not_before: datetime.datetime | None,
    not_after: datetime.datetime | None,
    lifetime: datetime.timedelta,
) -> tuple[datetime.datetime, datetime.datetime]:
    now = utcnow()
    start = not_before if not_before is not None else now - _BACKDATE
    end = not_after if not_after is not None else now + lifetime
    if end <= start:
        # Keep "expired" certificates well-formed: a window that ends before it starts is
        # something no test means; move the start back instead.
        start = end - datetime.timedelta(days=1)
    return start, end


def _add_ca_extensions(
    builder: x509.CertificateBuilder,
    key: PrivateKey,
    *,
    issuer_key: PrivateKey,
    path_length: int | None,
) -> x509.CertificateBuilder:
    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )


def _parse_names(names: Sequence[str]) -> list[x509.GeneralName]:
    if not names:
        raise ValueError("a certificate needs at least one name")
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return general


def _leaf_subject(names: Sequence[str], common_name: str | None) -> x509.Name | None:
    cn = names[0] if common_name is None and names else common_name
    return _name(cn) if cn else None


def _leaf_builder(
    names: Sequence[str],
    key: PrivateKey,
    *,
    subject: x509.Name,
    not_before: datetime.datetime | None,
    not_after: datetime.datetime | None,
) -> x509.CertificateBuilder:
    general = _parse_names(names)
    start, end = _validity(not_before, not_after, _DEFAULT_LIFETIME)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        # RFC 5280: the SAN is critical when the subject is empty.
        .add_extension(x509.SubjectAlternativeName(general), critical=len(subject) == 0)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )


def _write_leaf(
    directory: Path,
    filename: str,
    certificate: x509.Certificate,
    key: PrivateKey,
    chain: list[x509.Certificate],
) -> IssuedCert:
    base = _check_filename(filename)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = write_pem_bundle(directory / f"{base}.pem", [certificate])
    chain_path = write_pem_bundle(directory / f"{base}-chain.pem", chain)
    fullchain_path = write_pem_bundle(directory / f"{base}-fullchain.pem", [certificate, *chain])
    key_path = directory / f"{base}-key.pem"
    _write_key(key_path, key)
    return IssuedCert(
        cert_path=cert_path,
        key_path=key_path,
        chain_path=chain_path,
        fullchain_path=fullchain_path,
        certificate=certificate,
        private_key=key,
    )


def _write_key(path: Path, key: PrivateKey) -> None:
    """Write an unencrypted PKCS#8 key readable by the owner only, from the first byte on."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already existed
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _default_filename(names: Sequence[str]) -> str:
    return _slug(names[0]) if names else "cert"


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text.replace("*", "wildcard")).strip("-.")
    return slug or "cert"


def _check_filename(name: str) -> str:
    if not _SAFE_FILENAME.match(name):
        raise ValueError(f"filename must be a plain file name without a directory, not {name!r}")
    return name
