"""Where each challenge record goes: the zone of the account and the record name inside it.

The CA looks for ``_acme-challenge.<name>``. If that name is a CNAME (delegation to a zone kept
only for ACME), the record is written at the end of the chain instead. The zone is the longest
domain of the account with a DNS presence that is a suffix of that name. All of this is decided
before anything is written, so a name outside the account costs no API write at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..api.models import Domain
from ..errors import ConfigurationError, DNSLookupError, ZoneError
from ..http_util import scrub
from ..names import (
    CHALLENGE_LABEL,
    bad_label,
    identifier_name,
    is_subdomain,
    relative_name,
    to_ace,
    to_unicode,
)
from ..resolver import MAX_CNAME_CHAIN, Resolver, normalize_name


@dataclass(frozen=True)
class Placement:
    """One challenge record: asked for at ``challenge_name``, written at ``fqdn`` in ``zone``."""

    identifier: str  # the name being validated, ACE, without "*."
    challenge_name: str  # _acme-challenge.<identifier>
    fqdn: str  # where the TXT record is written (differs from challenge_name after a CNAME)
    zone: str  # the account domain holding fqdn
    record_name: str  # fqdn relative to zone, as the API wants it

    @property
    def delegated(self) -> bool:
        return self.fqdn != self.challenge_name


def _checked_target(target: str, at: str) -> str:
    """A CNAME target, checked as a certificate name is: it comes from an unauthenticated
    resolver, and a record is about to be written at it."""
    try:
        ace = to_ace(target)
    except ConfigurationError as e:
        raise ZoneError(f"The CNAME at {at} points to a name that is not valid: {e}") from None
    if (bad := bad_label(ace.split("."))) is not None:
        raise ZoneError(
            f"The CNAME at {at} points to {scrub(ace, ())!r}, where no record can be written "
            f"(label {scrub(bad, ())!r}); fix the CNAME record."
        )
    return ace


class ZoneMap:
    """The account's domains with a DNS presence, for longest-suffix lookups."""

    def __init__(self, domains: Iterable[Domain]) -> None:
        all_domains = list(domains)
        self.hosted = sorted((d for d in all_domains if d.has_presence), key=lambda d: -len(d.name))
        self.unhosted = sorted(d.name for d in all_domains if not d.has_presence)

    def zone_of(self, fqdn: str) -> Domain | None:
        """The most specific hosted domain that `fqdn` is in, if any."""
        for domain in self.hosted:
            if is_subdomain(fqdn, domain.name):
                return domain
        return None

    def describe(self) -> str:
        """The account's domains, for error messages that tell the user what they do have."""
        hosted = ", ".join(sorted(to_unicode(d.name) for d in self.hosted)) or "none"
        text = f"the account's domains with DNS at Variomedia: {hosted}"
        if self.unhosted:
            text += f"; registered without DNS here: {', '.join(self.unhosted)}"
        return text

    def not_in_account(self, name: str, via: str | None = None) -> ZoneError:
        where = f" (reached through the CNAME at {via})" if via else ""
        for d in self.unhosted:
            if is_subdomain(name, d):
                return ZoneError(
                    f"{to_unicode(name)}{where} is in {d}, which this account has but whose DNS "
                    "is not hosted at Variomedia (the domain has no 'presence'); "
                    f"{self.describe()}."
                )
        return ZoneError(
            f"{to_unicode(name)}{where} is not in a domain of this Variomedia account; "
            f"{self.describe()}. Check the name, or the token in the credentials file."
        )


def _cname(lookup: Callable[[str], str | None], name: str, zone_map: ZoneMap) -> str | None:
    """The CNAME at `name`; a failed lookup outside the account means: not ours to write."""
    try:
        return lookup(name)
    except DNSLookupError as e:
        if zone_map.zone_of(name) is None:
            raise ZoneError(
                f"{zone_map.not_in_account(name)} (Its CNAME lookup failed: {e})"
            ) from None
        raise


def cname_chain(name: str, cname_target: Callable[[str], str | None]) -> list[str]:
    """``[name, target, ...]``: the CNAME chain from `name` to the name that holds the TXT, as
    the CA follows it. A loop, or more than `MAX_CNAME_CHAIN` links, is an error, not a hang."""
    chain = [to_ace(name)]
    while (target := cname_target(chain[-1])) is not None:
        target = _checked_target(target, chain[-1])
        if target in chain:
            raise ZoneError(
                f"The CNAME chain at {chain[0]} loops ({' → '.join([*chain, target])}); "
                "fix the CNAME records."
            )
        if len(chain) > MAX_CNAME_CHAIN:
            raise ZoneError(
                f"The CNAME chain at {chain[0]} is longer than {MAX_CNAME_CHAIN} links; point "
                "it at the final name directly."
            )
        chain.append(target)
    return chain


def place(
    domains: Sequence[str],
    zone_map: ZoneMap,
    cname_target: Callable[[str], str | None],
    *,
    label: str = CHALLENGE_LABEL,
) -> list[Placement]:
    """A placement for every certificate domain, or a `ZoneError` before anything is written.

    `cname_target` returns the CNAME at exactly a name (or ``None``); `cname_chain` follows it.
    `label` is where the CA looks: ``_acme-challenge`` (dns-01) or ``_validation-persist``
    (dns-persist-01).
    """
    placements = []
    for domain in domains:
        identifier = identifier_name(domain)
        challenge_name = f"{label}.{identifier}"
        chain = cname_chain(challenge_name, lambda name: _cname(cname_target, name, zone_map))
        fqdn = chain[-1]
        zone = zone_map.zone_of(fqdn)
        if zone is None:
            raise zone_map.not_in_account(fqdn, via=challenge_name if len(chain) > 1 else None)
        placements.append(
            Placement(
                identifier=identifier,
                challenge_name=challenge_name,
                fqdn=fqdn,
                zone=zone.name,
                record_name=relative_name(fqdn, zone.name),
            )
        )
    return placements


# -- what DNS says (no account needed) ----------------------------------------------------------


def find_zone(resolver: Resolver, name: str) -> str:
    """The closest enclosing zone of `name`: the nearest name at or above it with NS records."""
    labels = normalize_name(name).split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if any(r.rdtype.name == "NS" for r in resolver.query(candidate, "NS")):
            return candidate
    raise DNSLookupError(
        f"No zone found for {name}: neither it nor a parent has NS records; check the name."
    )
