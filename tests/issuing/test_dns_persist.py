"""The dns-persist-01 challenge type as the ``acme`` library now reads and answers it."""

from __future__ import annotations

import json
from typing import cast

import pytest
from acme import client as acme_client
from acme import messages
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.b64 import b64decode
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from certbot_dns_variomedia.core.persist import MalformedRecord
from certbot_dns_variomedia.issuing.dns_persist import (
    DNSPersist01,
    DNSPersist01Response,
    issuer_names,
)

URL = "https://ca.example/acme/chall/1"
CHALLENGE = {
    "type": "dns-persist-01",
    "url": URL,
    "status": "pending",
    "issuer-domain-names": ["Authority.Example", "ca.example.net"],
    "accounturi": "https://ca.example/acme/acct/1",  # acme2certifier's extra field
}


def test_the_challenge_is_parsed_with_its_issuer_names() -> None:
    challb = messages.ChallengeBody.from_json(CHALLENGE)

    assert isinstance(challb.chall, DNSPersist01)
    assert challb.uri == URL
    assert issuer_names(challb.chall) == ("authority.example", "ca.example.net")


@pytest.mark.parametrize("names", [[], [f"ca{i}.example" for i in range(11)]])
def test_a_challenge_with_no_or_eleven_issuer_names_is_rejected(names: list[str]) -> None:
    challb = messages.ChallengeBody.from_json({**CHALLENGE, "issuer-domain-names": names})

    with pytest.raises(MalformedRecord):
        issuer_names(challb.chall)


def test_the_answer_is_posted_as_the_empty_object_not_an_empty_payload() -> None:
    # acme signs `obj.json_dumps()` only if `obj` is truthy; otherwise it sends an empty
    # payload, which is a POST-as-GET (a fetch), not an answer.
    key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = acme_client.ClientNetwork(key, alg=ES256)
    try:
        # acme keeps nonces as bytes (decoded from the header), though it annotates str.
        nonce = cast(str, b"nonce")
        signed = net._wrap_in_jws(DNSPersist01Response(), nonce, URL)
    finally:
        net.session.close()

    payload = b64decode(json.loads(signed)["payload"].encode())
    assert json.loads(payload) == {}
