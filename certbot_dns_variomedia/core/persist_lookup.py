"""What every authoritative name server shows at the ``_validation-persist`` names of a set of
certificate names, judged for one ACME account at one CA.

The CA asks whichever authoritative server its resolver picks, so a record counts only when
every server shows it (as for dns-01, `core.propagation`). Only DNS is asked: no API request and
no token, so this serves ``persist check`` as a monitoring check, and the issuer before an order.
A CNAME at the record name is followed, as the CA's resolver follows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..nameservers import NameServer, TxtAnswer
from ..resolver import Resolver
from .persist import Judgement, judge, record_name
from .zones import cname_chain, find_zone

ServersFor = Callable[[str], Sequence[NameServer]]


@dataclass(frozen=True)
class NameStatus:
    """One certificate name: what its servers show, and whether that authorizes the account."""

    name: str  # the certificate name, "*.example.de" with its star
    chain: tuple[str, ...]  # the record name, then any CNAME targets
    answers: tuple[TxtAnswer, ...]
    standing: Judgement  # of the values every server shows: what the CA can rely on
    seen: Judgement  # of the values any server shows: what to report

    @property
    def queried(self) -> str:
        """The name whose TXT records count: the record name, or the end of its CNAME chain."""
        return self.chain[-1]

    @property
    def failed(self) -> tuple[TxtAnswer, ...]:
        return tuple(a for a in self.answers if a.failed)

    @property
    def valid(self) -> bool:
        return not self.failed and self.standing.valid is not None

    @property
    def problem(self) -> str | None:
        """Why the CA may refuse this name, in a clause; None when every server authorizes."""
        if self.failed:
            servers = ", ".join(f"{a.server} ({a.error})" for a in self.failed)
            return f"no usable answer from {servers}"
        if self.standing.valid is not None:
            return None
        if self.seen.valid is not None:
            value = self.seen.valid.value()
            missing = ", ".join(str(a.server) for a in self.answers if value not in a.values)
            return f"the record is not visible on every name server yet (missing on {missing})"
        return self.standing.problem


def authoritative_servers(resolver: Resolver, given: Sequence[NameServer] | None) -> ServersFor:
    """The servers to ask for a name: `given` (``--nameservers``), else its zone's own, found
    once per zone."""
    if given is not None:
        fixed = tuple(given)
        return lambda name: fixed
    by_zone: dict[str, tuple[NameServer, ...]] = {}

    def servers_for(name: str) -> Sequence[NameServer]:
        zone = find_zone(resolver, name)
        if zone not in by_zone:
            by_zone[zone] = tuple(resolver.authoritative_servers(zone))
        return by_zone[zone]

    return servers_for


def look_up(
    names: Iterable[str],
    *,
    resolver: Resolver,
    servers_for: ServersFor,
    issuers: Sequence[str],
    account_uri: str,
    now: float,
) -> list[NameStatus]:
    """Ask every server of every name once; judge for `account_uri` at a CA called `issuers`.

    A name and its wildcard share one record name and are asked once; the wildcard's status
    then demands ``policy=wildcard`` too.
    """
    asked: dict[str, tuple[tuple[str, ...], tuple[TxtAnswer, ...]]] = {}
    statuses = []
    for name in names:
        where = record_name(name)
        if where not in asked:
            chain = tuple(cname_chain(where, resolver.cname_target))
            servers = servers_for(chain[-1])
            asked[where] = chain, tuple(resolver.query_txt(s, chain[-1]) for s in servers)
        chain, answers = asked[where]
        usable = [a.values for a in answers if not a.failed]
        everywhere = frozenset.intersection(*usable) if usable else frozenset()
        anywhere = frozenset().union(*usable)
        wildcard = name.strip().startswith("*.")

        def judged(values: frozenset[str], wildcard: bool = wildcard) -> Judgement:
            return judge(
                values,
                issuers=issuers,
                account_uri=account_uri,
                wildcard_needed=wildcard,
                now=now,
            )

        statuses.append(NameStatus(name, chain, answers, judged(everywhere), judged(anywhere)))
    return statuses
