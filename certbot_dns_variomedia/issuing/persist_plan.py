"""Which names of an order dns-persist-01 answers, decided from what every name server shows.

Decided before the order wherever the CA's issuer domain name is known (its directory's
``caaIdentities``, or the caller's), so a record that cannot work (another account's, past its
``persistUntil``, without ``policy=wildcard`` for a wildcard) is reported before the CA is asked
for anything. With ``dns-persist-01`` a name with no record of this account is given one when
Variomedia credentials are at hand (once; later renewals find it standing); with ``auto`` it
falls back to dns-01 instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..core.persist import PersistRecord, build
from ..core.persist_lookup import NameStatus
from ..errors import ConfigurationError
from ..names import to_unicode
from .authorizations import ChallengeType

Choice = Literal["dns-01", "dns-persist-01", "auto"]
CHOICES: tuple[Choice, ...] = ("dns-01", "dns-persist-01", "auto")


@dataclass(frozen=True)
class PersistPlan:
    """The names dns-persist-01 answers, and the records to set before the order."""

    account_uri: str
    issuer_of: dict[str, str]  # certificate name ("*.example.de" with its star) → the issuer
    # domain name of the record that answers it
    to_set: dict[str, PersistRecord] = field(default_factory=dict)  # identifier → record

    @property
    def persist(self) -> frozenset[str]:
        """The certificate names dns-persist-01 answers."""
        return frozenset(self.issuer_of)

    def kind(self, name: str) -> ChallengeType:
        return "dns-persist-01" if name in self.issuer_of else "dns-01"


def _base(name: str) -> str:
    return name.removeprefix("*.")


def _set_command(name: str, wildcard: bool, replace: bool) -> str:
    policy = " --policy wildcard" if wildcard else ""
    return f"variomedia-dns persist set -d {_base(name)}{policy}{' --replace' if replace else ''}"


def plan_persist(
    statuses: Sequence[NameStatus],
    *,
    choice: Choice,
    issuers: Sequence[str],
    account_uri: str,
    can_write: bool,
) -> PersistPlan:
    """Decide for every name; raise `ConfigurationError` listing every name that cannot be
    answered as asked (nothing has been written or ordered then)."""
    wildcards = {_base(s.name) for s in statuses if s.name.startswith("*.")}
    issuer_of: dict[str, str] = {}
    to_set: dict[str, PersistRecord] = {}
    problems: list[str] = []
    for status in statuses:
        if status.valid and status.standing.valid is not None:
            issuer_of[status.name] = status.standing.valid.issuer
            continue
        if choice == "auto":
            continue  # dns-01 answers it
        name, judgement = status.name, status.standing
        fixable = not status.failed and not judgement.ours and status.seen.valid is None
        if fixable and can_write:
            base = _base(name)
            to_set[base] = build(
                issuers[0], account_uri, wildcard=base in wildcards or name.startswith("*.")
            )
            issuer_of[name] = issuers[0]
            continue
        why = status.problem or "no record"
        if fixable:
            fix = (
                f"set it once: {_set_command(name, _base(name) in wildcards, False)}, or give "
                "Variomedia credentials and it is set before the order"
            )
        elif judgement.ours and not status.failed:
            fix = f"fix it: {_set_command(name, name.startswith('*.'), True)}"
        else:
            fix = "check it: variomedia-dns persist check -d " + _base(name)
        problems.append(f"{to_unicode(name)}: {why}; {fix}")
    if problems:
        raise ConfigurationError(
            f"No dns-persist-01 record authorizes the account {account_uri} at "
            f"{', '.join(issuers)} for every name; nothing was ordered.\n  " + "\n  ".join(problems)
        )
    return PersistPlan(account_uri, issuer_of, to_set)
