"""DNSSEC validation with dnspython: is an answer signed all the way down from a trust anchor?

Sending mail servers use TLSA records only when their validating resolver calls the answer
secure (RFC 7672), so an audit has to ask the same question. It cannot rely on the AD bit of a
resolver it did not choose, so it validates itself: the anchor's DNSKEY set is proven by the
anchor (the IANA root keys unless others are given), each zone's DNSKEY set by the DS set its
parent signed, down to the zone that holds the data, whose RRSIG is then checked.

The states are RFC 4035's: ``secure`` (the chain validates); ``insecure`` (it provably ends: a
signed NSEC/NSEC3 says a delegation has no DS, or its DS uses only algorithms nobody here can
check); ``bogus`` (a signature that must be there is missing, expired or wrong: validating
resolvers answer SERVFAIL); ``indeterminate`` (no anchor covers the name, DNS failed on the way,
or an answer came without the proof needed to decide).

Every question goes through ``resolver.Resolver.message`` with DO and CD set (signatures are
passed on, bogus data is not hidden behind SERVFAIL); nothing here opens a socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zonefile
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from .dnssec_denial import denial_types
from .errors import ConfigurationError, DNSLookupError

__all__ = [
    "ROOT_TRUST_ANCHORS",
    "SignedLookup",
    "State",
    "TrustAnchors",
    "Validation",
    "Validator",
    "parse_trust_anchors",
]

State = Literal["secure", "insecure", "bogus", "indeterminate"]

ROOT_TRUST_ANCHORS = """\
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
"""
"""The root zone's key-signing keys KSK-2017 and KSK-2024 (IANA's root-anchors.xml)."""

TrustAnchors = Mapping[dns.name.Name, tuple[dns.rdata.Rdata, ...]]
"""DS or DNSKEY rdatas, by the zone they anchor."""

# Algorithms dnspython (with cryptography) verifies and RFC 8624 lets a validator trust.
_ALGORITHMS = frozenset({5, 7, 8, 10, 13, 14, 15, 16})
_DIGESTS = frozenset({1, 2, 4})
_MAX_CNAMES = 8


class SignedLookup(Protocol):
    """What validation needs from a resolver (``resolver.Resolver`` provides it)."""

    def message(
        self,
        name: str | dns.name.Name,
        rdtype: str | dns.rdatatype.RdataType,
        *,
        dnssec: bool = False,
    ) -> dns.message.Message:
        """The whole answer; with ``dnssec``, DNSSEC records included and not validated."""
        ...


@dataclass(frozen=True)
class Validation:
    """The DNSSEC state of a name or of an answer, the zone the chain reached, and why."""

    state: State
    zone: str
    reason: str

    @property
    def secure(self) -> bool:
        return self.state == "secure"


def parse_trust_anchors(text: str, source: str) -> dict[dns.name.Name, tuple[dns.rdata.Rdata, ...]]:
    """DS or DNSKEY records in zone-file syntax (``example. IN DS 12345 13 2 9F1C...``).

    Raises :class:`ConfigurationError` naming ``source`` for anything else.
    """
    hint = "give DS or DNSKEY records, one a line, e.g. '. IN DS 20326 8 2 E06D44B8...'"
    try:
        rrsets = dns.zonefile.read_rrsets(text, rdclass=None, default_ttl=0, origin=dns.name.root)
    except dns.exception.DNSException as exc:
        raise ConfigurationError(
            f"{source} is not a list of trust anchors ({exc}); {hint}."
        ) from None
    anchors: dict[dns.name.Name, tuple[dns.rdata.Rdata, ...]] = {}
    for rrset in rrsets:
        if rrset.rdtype not in (dns.rdatatype.DS, dns.rdatatype.DNSKEY):
            kind = dns.rdatatype.to_text(rrset.rdtype)
            raise ConfigurationError(f"{source} has a {kind} record for {rrset.name}; {hint}.")
        anchors[rrset.name] = (*anchors.get(rrset.name, ()), *rrset)
    if not anchors:
        raise ConfigurationError(f"{source} holds no trust anchor; {hint}.")
    return anchors


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=name != dns.name.root).lower()


def _find(
    section: Iterable[dns.rrset.RRset],
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    covers: dns.rdatatype.RdataType = dns.rdatatype.NONE,
) -> dns.rrset.RRset | None:
    for rrset in section:
        if (
            rrset.name == name
            and rrset.rdtype == rdtype
            and rrset.covers == covers
            and rrset.rdclass == dns.rdataclass.IN
        ):
            return rrset
    return None


@dataclass(frozen=True)
class _Step:
    """What the DS question for one name below a secure zone showed."""

    kind: Literal["zone", "no cut", "absent", "end"]
    keys: dns.rrset.RRset | None = None
    end: Validation | None = None


class Validator:
    """Validates answers of one resolver from the given trust anchors; caches every step.

    ``now`` is the time signatures are checked at (seconds since the epoch).
    """

    def __init__(
        self,
        dns_lookup: SignedLookup,
        anchors: TrustAnchors | None = None,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._dns = dns_lookup
        self._anchors = dict(anchors or parse_trust_anchors(ROOT_TRUST_ANCHORS, "root anchors"))
        self._now = now
        self._steps: dict[dns.name.Name, _Step] = {}

    def zone_of(self, name: str) -> Validation:
        """How far a chain of trust reaches towards ``name``: the state of its zone."""
        return self._chain(dns.name.from_text(name))[0]

    def validate(self, name: str, rdtype: str) -> Validation:
        """Whether the ``rdtype`` records at ``name`` are secure (CNAMEs on the way too).

        No records at a name in a secure zone is ``secure`` too: there is nothing to forge
        that a validating resolver would believe (the denial itself is not checked here).
        """
        kind = dns.rdatatype.RdataType.make(rdtype)
        owner = dns.name.from_text(name)
        chain, keys = self._chain(owner)
        if not chain.secure or keys is None:
            return chain
        try:
            answer = self._dns.message(owner, kind, dnssec=True)
        except DNSLookupError as exc:
            return Validation("indeterminate", chain.zone, str(exc))
        if answer.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            said = dns.rcode.to_text(answer.rcode())
            return Validation("indeterminate", chain.zone, f"{rdtype} lookup for {name}: {said}")
        for _ in range(_MAX_CNAMES + 1):
            rrset = _find(answer.answer, owner, kind) or _find(
                answer.answer, owner, dns.rdatatype.CNAME
            )
            if rrset is None:
                return Validation("secure", chain.zone, f"no {rdtype} at {_text(owner)}")
            failure = self._verify(rrset, answer.answer, dns.name.from_text(chain.zone), keys)
            if failure is not None:
                return Validation("bogus", chain.zone, failure)
            if rrset.rdtype != dns.rdatatype.CNAME:
                return Validation("secure", chain.zone, f"signed by {chain.zone}")
            owner = rrset[0].target
            chain, keys = self._chain(owner)
            if not chain.secure or keys is None:
                return chain
        return Validation("indeterminate", "", f"the CNAME chain at {name} is too long")

    # -- the chain of trust ---------------------------------------------------------------

    def _chain(self, name: dns.name.Name) -> tuple[Validation, dns.rrset.RRset | None]:
        """From the closest anchor above ``name`` down to the zone ``name`` is in."""
        anchor = next((n for n in self._ancestors(name) if n in self._anchors), None)
        if anchor is None:
            return Validation("indeterminate", "", f"no trust anchor covers {_text(name)}"), None
        step = self._anchor_keys(anchor)
        if step.keys is None:
            assert step.end is not None
            return step.end, None
        zone, keys = anchor, step.keys
        for depth in range(len(anchor.labels) + 1, len(name.labels) + 1):
            child = dns.name.Name(name.labels[-depth:])
            step = self._step(zone, keys, child)
            if step.kind == "zone" and step.keys is not None:
                zone, keys = child, step.keys
            elif step.kind == "absent":
                break
            elif step.kind == "end":
                assert step.end is not None
                return step.end, None
        how = f"signed from the trust anchor {_text(anchor)}"
        return Validation("secure", _text(zone), how), keys

    @staticmethod
    def _ancestors(name: dns.name.Name) -> Iterable[dns.name.Name]:
        """``name``, its parent, ... the root: the closest anchor wins."""
        while True:
            yield name
            if name == dns.name.root:
                return
            name = name.parent()

    def _ask(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
        return self._dns.message(name, rdtype, dnssec=True)

    def _anchor_keys(self, anchor: dns.name.Name) -> _Step:
        if anchor not in self._steps:
            trusted = self._anchors[anchor]
            self._steps[anchor] = self._keys(
                anchor, trusted, f"the trust anchor for {_text(anchor)}"
            )
        return self._steps[anchor]

    def _keys(self, zone: dns.name.Name, trusted: tuple[dns.rdata.Rdata, ...], by: str) -> _Step:
        """The zone's DNSKEY set, if a key that ``trusted`` (DS or DNSKEY rdatas) vouches for
        signed it."""
        where = _text(zone)
        try:
            answer = self._ask(zone, dns.rdatatype.DNSKEY)
        except DNSLookupError as exc:
            return _Step("end", end=Validation("indeterminate", where, str(exc)))
        rrset = _find(answer.answer, zone, dns.rdatatype.DNSKEY)
        if rrset is None:
            return _Step("end", end=Validation("bogus", where, f"{where} has no DNSKEY, but {by}"))
        vouched = [key for key in rrset if any(_vouches(zone, t, key) for t in trusted)]
        if not vouched:
            reason = f"no DNSKEY of {where} matches {by}"
            return _Step("end", end=Validation("bogus", where, reason))
        sigs = _find(answer.answer, zone, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
        if sigs is None and zone in self._anchors:
            # Not bogus: a resolver or forwarder that drops DNSSEC records (no DO support).
            reason = (
                f"the DNS server asked returns no signatures (no RRSIG with the DNSKEY of "
                f"{where}): DNSSEC cannot be checked through it"
            )
            return _Step("end", end=Validation("indeterminate", where, reason))
        failure = self._check(rrset, sigs, zone, dns.rrset.from_rdata_list(zone, 0, vouched))
        if failure is not None:
            return _Step("end", end=Validation("bogus", where, failure))
        return _Step("zone", keys=rrset)

    def _step(self, zone: dns.name.Name, keys: dns.rrset.RRset, child: dns.name.Name) -> _Step:
        """Is ``child`` a signed zone, a name inside ``zone``, or where the chain ends?"""
        if child in self._steps:
            return self._steps[child]
        step = self._find_step(zone, keys, child)
        self._steps[child] = step
        return step

    def _find_step(self, zone: dns.name.Name, keys: dns.rrset.RRset, child: dns.name.Name) -> _Step:
        where = _text(child)
        try:
            answer = self._ask(child, dns.rdatatype.DS)
        except DNSLookupError as exc:
            return _Step("end", end=Validation("indeterminate", _text(zone), str(exc)))
        if answer.rcode() == dns.rcode.NXDOMAIN:
            return _Step("absent")
        if answer.rcode() != dns.rcode.NOERROR:
            said = dns.rcode.to_text(answer.rcode())
            return _Step("end", end=Validation("indeterminate", _text(zone), f"DS {where}: {said}"))
        ds = _find(answer.answer, child, dns.rdatatype.DS)
        if ds is not None:
            sigs = _find(answer.answer, child, dns.rdatatype.RRSIG, dns.rdatatype.DS)
            failure = self._check(ds, sigs, zone, keys)
            if failure is not None:
                return _Step("end", end=Validation("bogus", _text(zone), failure))
            usable = tuple(
                d for d in ds if d.algorithm in _ALGORITHMS and d.digest_type in _DIGESTS
            )
            if not usable:
                reason = f"the DS of {where} uses only algorithms that cannot be checked"
                return _Step("end", end=Validation("insecure", where, reason))
            return self._keys(child, usable, f"its DS in {_text(zone)}")
        if _find(answer.answer, child, dns.rdatatype.CNAME) is not None:
            return _Step("no cut")
        return self._no_ds(answer, zone, keys, child)

    def _no_ds(
        self,
        answer: dns.message.Message,
        zone: dns.name.Name,
        keys: dns.rrset.RRset,
        child: dns.name.Name,
    ) -> _Step:
        """Read the signed NSEC or NSEC3 proof that ``child`` has no DS."""
        where, parent = _text(child), _text(zone)
        for rrset in answer.authority:
            if rrset.rdtype not in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3):
                continue
            types = denial_types(rrset, child)
            if types is None:
                continue
            sigs = _find(answer.authority, rrset.name, dns.rdatatype.RRSIG, rrset.rdtype)
            failure = self._check(rrset, sigs, zone, keys)
            if failure is not None:
                return _Step("end", end=Validation("bogus", parent, failure))
            if dns.rdatatype.DS in types:
                reason = f"{parent} says {where} has a DS but sent none"
                return _Step("end", end=Validation("bogus", parent, reason))
            if dns.rdatatype.NS in types and dns.rdatatype.SOA not in types:
                reason = f"{where} is not signed: {parent} proves it has no DS record"
                return _Step("end", end=Validation("insecure", where, reason))
            return _Step("no cut")
        reason = f"{parent} answered that {where} has no DS without a signed proof"
        return _Step("end", end=Validation("indeterminate", parent, reason))

    def _check(
        self,
        rrset: dns.rrset.RRset,
        sigs: dns.rrset.RRset | None,
        zone: dns.name.Name,
        keys: dns.rrset.RRset,
    ) -> str | None:
        """``None`` when a signature of ``rrset`` by one of ``keys`` validates; else why not."""
        what = f"{dns.rdatatype.to_text(rrset.rdtype)} {_text(rrset.name)}"
        if sigs is None:
            return f"{what} is not signed, though {_text(zone)} is"
        try:
            dns.dnssec.validate(rrset, sigs, {zone: keys}, now=self._now())
        except dns.exception.ValidationFailure as exc:
            return f"the signature of {what} does not validate ({exc})"
        return None

    def _verify(
        self,
        rrset: dns.rrset.RRset,
        section: Iterable[dns.rrset.RRset],
        zone: dns.name.Name,
        keys: dns.rrset.RRset,
    ) -> str | None:
        sigs = _find(section, rrset.name, dns.rdatatype.RRSIG, rrset.rdtype)
        return self._check(rrset, sigs, zone, keys)


def _checkable(ds: dns.rdata.Rdata) -> bool:
    """Whether a DS names an algorithm and digest this validator can check."""
    return isinstance(ds, DS) and ds.algorithm in _ALGORITHMS and ds.digest_type in _DIGESTS


def _vouches(zone: dns.name.Name, trusted: dns.rdata.Rdata, key: dns.rdata.Rdata) -> bool:
    """Whether the anchor or DS ``trusted`` names the DNSKEY ``key``."""
    if not isinstance(key, DNSKEY):
        return False
    if isinstance(trusted, DNSKEY):
        return bool(trusted == key)
    if not isinstance(trusted, DS):
        return False
    if trusted.algorithm != key.algorithm or trusted.key_tag != dns.dnssec.key_id(key):
        return False
    try:
        made = dns.dnssec.make_ds(zone, key, trusted.digest_type, validating=True)
    except (dns.exception.UnsupportedAlgorithm, ValueError):
        return False
    return bool(made.digest == trusted.digest)
