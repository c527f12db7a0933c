"""Answer an order's challenges and wait for the CA's verdict.

dns-01 takes the plugin's path (`core.run.ChallengeRun`): every record of the order written in
one batch, one wait for queue jobs and every authoritative name server, and only then the CA is
asked to validate, so a slow name server costs time, never a failed validation. dns-persist-01
writes nothing: its record stands already, and the answer is ``{}``. The dns-01 records are
removed whatever happens, and nothing is answered to the CA when they could not be shown: the
pending authorizations are deactivated instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from acme import challenges as acme_challenges
from acme import client as acme_client
from josepy.jwk import JWK

from ..clock import SYSTEM_CLOCK, Clock
from ..core.run import ChallengeRun
from .authorizations import Pending, await_verdict, deactivate
from .dns_persist import DNSPersist01Response

logger = logging.getLogger(__name__)

Notify = Callable[[str], None]


def _dns01(item: Pending) -> acme_challenges.DNS01:
    chall = item.challb.chall
    assert isinstance(chall, acme_challenges.DNS01)
    return chall


def _response(item: Pending, jwk: JWK) -> acme_challenges.ChallengeResponse:
    if item.kind == "dns-persist-01":
        return DNSPersist01Response()
    return _dns01(item).response(jwk)


def validate(
    acme: acme_client.ClientV2,
    items: Sequence[Pending],
    *,
    run: ChallengeRun | None,
    jwk: JWK,
    timeout: float,
    notify: Notify,
    persist_hint: str,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Present (dns-01) → answer → await the verdict of every item; `run` writes the dns-01
    records and may be None when there are none."""
    if not items:
        return
    dns01 = [i for i in items if i.kind == "dns-01"]
    if dns01 and run is None:
        raise AssertionError("dns-01 challenges need a ChallengeRun")
    answered = False
    try:
        if dns01 and run is not None:
            run.sweep()
            placements = run.plan([i.name for i in dns01])
            run.present(
                [(pl, _dns01(i).validation(jwk)) for pl, i in zip(placements, dns01, strict=True)]
            )
            run.wait()
        notify(f"Asking the CA to validate {len(items)} challenge(s)")
        for item in items:
            acme.answer_challenge(item.challb, _response(item, jwk))
        answered = True
        await_verdict(acme, items, timeout=timeout, persist_hint=persist_hint, clock=clock)
    except BaseException:
        if not answered:
            deactivate(acme, items)
        raise
    finally:
        if dns01 and run is not None:
            for problem in run.remove():
                logger.warning(
                    "Could not remove a challenge record: %s. It is listed in %s and the next "
                    "run removes it.",
                    problem,
                    run.state.path,
                )
