"""The plugin's perform and cleanup in this process, with certbot's own challenge objects.

certbot calls exactly these two methods. Run here rather than in a certbot process, every
warning the plugin's code triggers reaches pytest, and tests/conftest.py fails a test on any
DeprecationWarning this package brings about (certbot 5.3 deprecated
``AnnotatedChallenge.domain``). The records go to the simulator over real HTTP and the wait asks
its real name servers; only certbot's configuration object is a stand-in, as in certbot's own
plugin tests. scripts/compat-tests runs this file under certbot 1.21.0 and 2.1.0, whose
challenges have no ``identifier`` yet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from acme import challenges, messages
from certbot import achallenges
from certbot.plugins import dns_test_common
from certbot.tests import util as test_util
from cryptography.hazmat.primitives.asymmetric import rsa
from josepy.jwk import JWK, JWKRSA

from certbot_dns_variomedia.plugin import Authenticator
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

CONFIG = SimConfig(
    domains=(SimDomain("example.test"), SimDomain("other.test")),
    nameservers=(SimNameServer("ns1.variomedia.test"), SimNameServer("ns2.variomedia.test", 0.3)),
    job_delay=0.2,
)
# certbot 5.3 and newer name a challenge by its identifier; older releases by its domain.
HAS_IDENTIFIER = "identifier" in achallenges.KeyAuthorizationAnnotatedChallenge.__slots__


@pytest.fixture
def sim() -> Iterator[VariomediaSimulator]:
    with VariomediaSimulator(CONFIG) as simulator:
        yield simulator


def annotated(name: str, key: JWK) -> achallenges.KeyAuthorizationAnnotatedChallenge:
    """A DNS-01 challenge for `name` as certbot hands it to an authenticator."""
    challb = messages.ChallengeBody(
        chall=challenges.DNS01(token=os.urandom(16)),
        uri="https://ca.test/chall",
        status=messages.STATUS_PENDING,
    )
    if HAS_IDENTIFIER:
        identifier = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name)
        return achallenges.KeyAuthorizationAnnotatedChallenge(
            challb=challb, identifier=identifier, account_key=key
        )
    return achallenges.KeyAuthorizationAnnotatedChallenge(
        challb=challb, domain=name, account_key=key
    )


def test_perform_writes_every_challenges_record_and_cleanup_removes_them(
    sim: VariomediaSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the pacing ledger
    credentials = tmp_path / "variomedia.ini"
    dns_test_common.write(
        {"dns_variomedia_token": sim.token, "dns_variomedia_api_url": sim.url}, str(credentials)
    )
    config = mock.MagicMock(
        dns_variomedia_credentials=str(credentials),
        dns_variomedia_propagation_seconds=30,
        dns_variomedia_ttl=300,
        dns_variomedia_nameservers=",".join(sim.nameservers),
        dns_variomedia_update_lock="on",
        work_dir=str(tmp_path / "work"),
    )
    auth = Authenticator(config, "dns-variomedia")
    key = JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    achalls = [annotated(n, key) for n in ("example.test", "*.example.test", "www.other.test")]

    with test_util.patch_display_util():  # certbot's display, which its progress lines go to
        responses = auth.perform(achalls)

    assert responses == [a.response(key) for a in achalls]
    written = sorted((r.fqdn, r.data) for r in sim.records() if r.source == "api")
    assert written == sorted(
        [
            ("_acme-challenge.example.test", achalls[0].validation(key)),
            ("_acme-challenge.example.test", achalls[1].validation(key)),
            ("_acme-challenge.www.other.test", achalls[2].validation(key)),
        ]
    )
    with test_util.patch_display_util():
        auth.cleanup(achalls)
    assert [r.id for r in sim.records() if r.source == "api" and not r.deleted] == []
