"""The dns-persist-01 challenge type, taught to the ``acme`` library.

``acme`` (5.9) does not know the type: unregistered, a dns-persist-01 challenge arrives as
``UnrecognizedChallenge`` and there is no response class to answer it with. Registering both
here makes the CA's ``issuer-domain-names`` a field and lets ``ClientV2.answer_challenge`` send
the draft's answer, the empty JSON object.
"""

from __future__ import annotations

from acme import challenges
from josepy import json_util

from ..core.persist import check_issuer_names

TYPE = "dns-persist-01"


@challenges.Challenge.register
class DNSPersist01(challenges.Challenge):
    """The CA names the issuer domain names a record may use (1 to 10 of them)."""

    typ = TYPE
    issuer_domain_names: tuple[str, ...] = json_util.field(
        "issuer-domain-names", omitempty=True, default=()
    )


@challenges.ChallengeResponse.register
class DNSPersist01Response(challenges.ChallengeResponse):
    """The answer: ``{}`` (the record is already in DNS; there is nothing else to send)."""

    typ = TYPE

    def __bool__(self) -> bool:
        # A josepy object without fields has len() 0, so it would be falsy, and acme then
        # POSTs an empty payload (POST-as-GET, a mere fetch) instead of the answer {}.
        return True


def issuer_names(challenge: challenges.Challenge) -> tuple[str, ...]:
    """The challenge's issuer domain names, normalised; `core.persist.MalformedRecord` when
    the draft says to reject the challenge (none, or more than 10).

    Read from the JSON, so a challenge parsed by another registration of the type (a future
    ``acme`` release) is read the same way.
    """
    return check_issuer_names(challenge.to_partial_json().get("issuer-domain-names"))
