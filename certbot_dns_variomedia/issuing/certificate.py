"""What an order yields: the certificate, its chain and (when made here) its key, all PEM."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .keys import PrivateKey
from .session import CertificateError


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and what belongs with it, all PEM."""

    names: tuple[str, ...]  # the certificate's DNS names, as the CA wrote them
    cert_pem: bytes  # the leaf alone
    chain_pem: bytes  # the intermediates
    fullchain_pem: bytes  # leaf + intermediates, what servers want
    not_after: datetime.datetime
    private_key_pem: bytes | None = field(default=None, repr=False)  # None: a CSR was given


def split_chain(
    fullchain_pem: str, key_pem: bytes | None, key: PrivateKey | None
) -> IssuedCertificate:
    """The CA's full chain as an `IssuedCertificate`; refused if it is not for `key`."""
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
