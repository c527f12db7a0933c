"""Keys and names of an order: the certificate key, the ACME account key, the names to ask for.

Everything here fails before any request is sent: a bad key size, an account key of the wrong
kind, a name that is no host name, a CSR that asks for an IP address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from acme import crypto_util as acme_crypto
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwa import ES256, ES384, ES512, RS256, JWASignature
from josepy.jwk import JWK, JWKEC, JWKRSA

from ..errors import ConfigurationError
from ..names import identifier_name

KeyType = Literal["ecdsa", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
CURVES: dict[str, type[ec.EllipticCurve]] = {"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1}
RSA_KEY_SIZES = (2048, 3072, 4096)
_JWS_ALGORITHMS = {"secp256r1": ES256, "secp384r1": ES384, "secp521r1": ES512}


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
