"""An order's authorizations: which challenge answers each, and the CA's verdict on each.

The verdict is read from every authorization's own status, not left to ``acme``'s
``poll_authorizations``: that raises only when a failed challenge carries an ``error`` object,
and some CAs (acme2certifier) fail a challenge without one, so the order would just stay
pending and ``finalize_order`` spin until its deadline. Here an invalid authorization ends the
order at once, with what the CA said or, when it said nothing, where to look.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import messages

from ..clock import SYSTEM_CLOCK, Clock
from ..names import to_unicode
from .session import CertificateError

ChallengeType = Literal["dns-01", "dns-persist-01"]
_FIRST_POLL = 0.2  # a CA that validates within the answer (acme2certifier) is done by then
_MAX_POLL = 2.0
_UNFINISHED = (messages.STATUS_PENDING, messages.STATUS_PROCESSING)


@dataclass
class Pending:
    """One authorization still to validate, and the challenge chosen to answer it."""

    name: str  # as validated: "*.example.de" for the wildcard's authorization
    authzr: messages.AuthorizationResource
    challb: messages.ChallengeBody
    kind: ChallengeType


def authorization_name(authzr: messages.AuthorizationResource) -> str:
    body = authzr.body
    return ("*." if body.wildcard else "") + str(body.identifier.value)


def offered(authzr: messages.AuthorizationResource) -> tuple[str, ...]:
    """The challenge types the CA offers for one authorization (read from the JSON: a type
    the acme library does not know has no ``typ`` of its own)."""
    return tuple(str(c.chall.to_partial_json().get("type")) for c in authzr.body.challenges)


def pending(order: messages.OrderResource, choose: Callable[[str], ChallengeType]) -> list[Pending]:
    """The challenge `choose` picks (by name) for every authorization not yet valid; raises
    `CertificateError` naming what the CA does offer when it does not offer that type."""
    found = []
    for authzr in order.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue  # validated recently for this account, or by a standing record
        name = authorization_name(authzr)
        kind = choose(name)
        challb = next((c for c in authzr.body.challenges if c.chall.typ == kind), None)
        if challb is None:
            raise CertificateError(_not_offered(name, kind, offered(authzr)))
        found.append(Pending(name, authzr, challb, kind))
    return found


def _not_offered(name: str, kind: ChallengeType, offer: tuple[str, ...]) -> str:
    text = f"The CA offers no {kind} challenge for {to_unicode(name)} (it offers: "
    text += f"{', '.join(offer) or 'none'}); "
    if kind == "dns-persist-01":
        return text + "use dns-01 (--challenge dns-01, or auto, which falls back to it)."
    if "dns-persist-01" in offer:
        return text + "set a dns-persist-01 record and use --challenge dns-persist-01."
    return text + "this project answers DNS challenges only."


def deactivate(acme: acme_client.ClientV2, items: Sequence[Pending]) -> None:
    """Politeness to the CA: authorizations we will not answer do not linger as pending."""
    for item in items:
        _deactivate(acme, item.authzr)


def abandon(acme: acme_client.ClientV2, order: messages.OrderResource) -> None:
    """Deactivate every pending authorization of an order that will not be answered."""
    for authzr in order.authorizations:
        if authzr.body.status == messages.STATUS_PENDING:
            _deactivate(acme, authzr)


def _deactivate(acme: acme_client.ClientV2, authzr: messages.AuthorizationResource) -> None:
    with contextlib.suppress(acme_errors.Error, requests.RequestException):
        acme.deactivate_authorization(authzr)


def _reason(authzr: messages.AuthorizationResource) -> str:
    details = [str(c.error.detail or c.error.typ) for c in authzr.body.challenges if c.error]
    return "; ".join(details)


def _refusal(item: Pending, authzr: messages.AuthorizationResource, persist_hint: str) -> str:
    name = to_unicode(item.name)
    reason = _reason(authzr)
    if item.kind == "dns-persist-01":
        said = f": {reason}" if reason else " without giving a reason"
        return (
            f"The CA refused the dns-persist-01 record of {name}{said}. Check what every "
            f"name server shows: {persist_hint}"
        )
    return (
        f"The CA could not validate {name}: {reason or 'invalid'}. Every authoritative name "
        "server showed the records before validation began; check that no other server "
        f"answers for the domain: variomedia-dns doctor {name.removeprefix('*.')}"
    )


def await_verdict(
    acme: acme_client.ClientV2,
    items: Sequence[Pending],
    *,
    timeout: float,
    persist_hint: str = "variomedia-dns persist check",
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Poll each answered authorization until the CA decides; raise `CertificateError` at the
    first invalid one, or when `timeout` seconds pass without a decision."""
    end = clock.monotonic() + timeout
    pause = _FIRST_POLL
    for item in items:
        while True:
            authzr, _ = acme.poll(item.authzr)
            status = authzr.body.status
            if status == messages.STATUS_VALID:
                break
            if status not in _UNFINISHED:
                raise CertificateError(_refusal(item, authzr, persist_hint))
            if clock.monotonic() >= end:
                raise CertificateError(
                    f"The CA did not decide on {to_unicode(item.name)} within {timeout:g} s; "
                    "try again later, or allow longer (--acme-timeout)."
                )
            clock.sleep(pause)
            pause = min(pause * 2, _MAX_POLL)
