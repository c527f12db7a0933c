"""Keys and names for the ACME order: certificate names, CSRs, key types, JWS algorithms."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from acme.crypto_util import make_csr
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from josepy.jwa import ES256, ES384, RS256
from josepy.jwk import JWKEC, JWKRSA

from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.issuing.keys import (
    account_jwk,
    certificate_names,
    csr_names,
    generate_key,
    key_to_pem,
)


def test_certificate_names_are_ace_unique_and_keep_wildcards() -> None:
    assert certificate_names(
        ["Example.TEST", "*.example.test", "example.test.", "bücher.test"]
    ) == [
        "example.test",
        "*.example.test",
        "xn--bcher-kva.test",
    ]
    with pytest.raises(ConfigurationError, match="No domain"):
        certificate_names([])
    with pytest.raises(ConfigurationError, match="wildcard"):
        certificate_names(["www.*.example.test"])


def test_csr_names_and_ip_addresses(tmp_path: Path) -> None:
    key = key_to_pem(generate_key())
    assert csr_names(make_csr(key, ["a.example.test", "*.example.test"])) == [
        "a.example.test",
        "*.example.test",
    ]
    with pytest.raises(ConfigurationError, match="IP addresses"):
        csr_names(make_csr(key, ["a.example.test"], ipaddrs=[ipaddress.ip_address("192.0.2.1")]))
    with pytest.raises(ConfigurationError, match="not a PEM"):
        csr_names(b"nonsense")


def test_keys_and_their_signature_algorithms() -> None:
    rsa_key = generate_key("rsa", rsa_key_size=3072)
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert rsa_key.key_size == 3072
    p384 = generate_key("ecdsa", elliptic_curve="secp384r1")
    assert isinstance(p384, ec.EllipticCurvePrivateKey)
    jwk, alg = account_jwk(key_to_pem(rsa_key))
    assert (type(jwk), alg) == (JWKRSA, RS256)
    assert (type(account_jwk(key_to_pem(p384))[0]), account_jwk(key_to_pem(p384))[1]) == (
        JWKEC,
        ES384,
    )
    assert account_jwk(key_to_pem(generate_key()))[1] == ES256
    with pytest.raises(ConfigurationError, match="RSA key size"):
        generate_key("rsa", rsa_key_size=1024)
    with pytest.raises(ConfigurationError, match="Curve"):
        generate_key("ecdsa", elliptic_curve="secp192r1")
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM"):
        account_jwk(b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n")


def test_generated_csr_carries_the_names_and_no_subject(tmp_path: Path) -> None:
    csr = x509.load_pem_x509_csr(make_csr(key_to_pem(generate_key()), ["example.test"]))
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
