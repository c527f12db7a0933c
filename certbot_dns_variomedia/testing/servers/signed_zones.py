"""Zones signed with DNSSEC as they are asked (dnspython signs), for the audit's DNSSEC tests.

`SignedZones` is a `StaticZones` whose zones can be signed: `sign("test")` gives the zone one
key (ECDSA P-256, flags 257: it signs the keys and the data) and publishes its DNSKEY. Answers
from a signed zone then carry RRSIGs for clients that set the DO bit. The DS of a zone whose
parent is here too is answered from the parent, as real servers do: a signed child gets a DS
the parent signed; for an unsigned child the parent proves with a signed NSEC that there is none
(an insecure delegation). `break_signatures(name, type)` makes one rrset's signatures bogus;
`trust_anchor(zone)` is the DS line a validator starts from.

Only the proofs an audit needs are made: positive answers, DS, and NODATA with an NSEC at the
name asked (next name: its immediate successor, as online signers do, RFC 4470), or with
`sign(zone, nsec3=True)` an NSEC3 (no salt, no extra iterations, RFC 9276) whose hash is the
name's; with `opt_out=True` an unsigned child is proven by an opt-out NSEC3 that covers its hash,
as in large TLDs. NXDOMAIN answers carry a signed SOA but no NSEC.
"""

from __future__ import annotations

import base64
import dataclasses
import time

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.rrset
from cryptography.hazmat.primitives.asymmetric import ec
from dns.dnssectypes import Algorithm

from .dns import Lookup, StaticZones, Zone, _as_name, _negative_soa, _zone_for, resolve

__all__ = ["SignedZones"]

_ALGORITHM = Algorithm.ECDSAP256SHA256
_KSK_FLAGS = 257  # ZONE | SEP
_VALID_BEFORE = 3600  # signatures are valid from an hour ago (clock skew) ...
_VALID_FOR = 86400  # ... for a day


@dataclasses.dataclass(frozen=True)
class _Key:
    private: ec.EllipticCurvePrivateKey
    dnskey: dns.rdtypes.ANY.DNSKEY.DNSKEY
    nsec3: bool = False
    opt_out: bool = False


def _b32hex(value: int) -> str:
    return base64.b32hexencode(value.to_bytes(20, "big")).decode("ascii").lower()


class SignedZones(StaticZones):
    """`StaticZones` with DNSSEC: sign zones, break signatures, hand out trust anchors."""

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[dns.name.Name, _Key] = {}
        self._broken: set[tuple[dns.name.Name, dns.rdatatype.RdataType]] = set()

    def sign(
        self, origin: str | dns.name.Name, *, nsec3: bool = False, opt_out: bool = False
    ) -> None:
        """Give the zone at ``origin`` (added before) a key and publish its DNSKEY; its
        negative answers are proven by NSEC, or by NSEC3 (with ``opt_out`` for unsigned
        children)."""
        apex = _as_name(origin)
        private = ec.generate_private_key(ec.SECP256R1())
        dnskey = dns.dnssec.make_dnskey(private.public_key(), _ALGORITHM, flags=_KSK_FLAGS)
        with self._lock:
            if apex not in self._zones:
                raise ValueError(f"{apex} is not a zone here; call add_zone() first")
            self._keys[apex] = _Key(private, dnskey, nsec3, opt_out)
        self.add(apex, "DNSKEY", dnskey.to_text())

    def trust_anchor(self, origin: str | dns.name.Name) -> str:
        """The DS record of a signed zone, as a line a validator takes as its anchor."""
        apex = _as_name(origin)
        ds = dns.dnssec.make_ds(apex, self._keys[apex].dnskey, "SHA256")
        return f"{apex} IN DS {ds}\n"

    def break_signatures(self, name: str | dns.name.Name, rdtype: str) -> None:
        """From now on the RRSIGs of this rrset do not validate (a bogus answer)."""
        with self._lock:
            self._broken.add((_as_name(name), dns.rdatatype.RdataType.make(rdtype)))

    def lookup(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
        with self._lock:
            parent = _zone_for(self._zones, qname.parent()) if qname != dns.name.root else None
            if rdtype == dns.rdatatype.DS and qname in self._zones and parent is not None:
                return self._delegation(qname, parent)
            found = resolve(self._zones, qname, rdtype)
            if found.rcode == dns.rcode.REFUSED:
                return found
            signatures = tuple(
                sig for rrset in found.answer if (sig := self._signature(rrset)) is not None
            )
            return dataclasses.replace(
                found, signatures=signatures, denial=self._denial(found, qname)
            )

    # -- internals (called with the lock held) ----------------------------------------------

    def _signature(
        self, rrset: dns.rrset.RRset, signer: dns.name.Name | None = None
    ) -> dns.rrset.RRset | None:
        """The RRSIG of ``rrset`` by its zone (or ``signer``); ``None`` if that is unsigned."""
        if signer is None:
            zone = _zone_for(self._zones, rrset.name)
            signer = zone.origin if zone is not None else None
        key = self._keys.get(signer) if signer is not None else None
        if key is None or signer is None:
            return None
        now = int(time.time())
        sig = dns.dnssec.sign(
            rrset,
            key.private,
            signer,
            key.dnskey,
            inception=now - _VALID_BEFORE,
            expiration=now + _VALID_FOR,
        )
        rdata: dns.rdata.Rdata = sig
        if (rrset.name, rrset.rdtype) in self._broken:
            rdata = sig.replace(signature=bytes(b ^ 0x5A for b in sig.signature))
        return dns.rrset.from_rdata(rrset.name, rrset.ttl, rdata)

    def _nsec(
        self,
        owner: dns.name.Name,
        types: set[dns.rdatatype.RdataType],
        zone: Zone,
        *,
        delegation: bool = False,
    ) -> tuple[dns.rrset.RRset, ...]:
        """A signed NSEC or NSEC3 that ``owner`` has only ``types`` (nothing if unsigned)."""
        key = self._keys.get(zone.origin)
        if key is None:
            return ()
        listed = sorted(
            {*types, dns.rdatatype.RRSIG} | (set() if key.nsec3 else {dns.rdatatype.NSEC})
        )
        names = " ".join(dns.rdatatype.to_text(t) for t in listed)
        ttl = zone.soa[0].minimum
        if not key.nsec3:
            following = dns.name.Name((b"\x00", *owner.labels))
            record = dns.rrset.from_text_list(owner, ttl, "IN", "NSEC", [f"{following} {names}"])
        else:
            digest = base64.b32hexdecode(dns.dnssec.nsec3_hash(owner, None, 0, 1))
            hashed = int.from_bytes(digest, "big")
            first = hashed
            if delegation and key.opt_out:  # cover the child's hash instead of naming it
                first, names = hashed - 1, ""
            flags = 1 if key.opt_out else 0
            text = f"1 {flags} 0 - {_b32hex(hashed + 1)} {names}".rstrip()
            name = dns.name.Name((_b32hex(first).encode("ascii"), *zone.origin.labels))
            record = dns.rrset.from_text_list(name, ttl, "IN", "NSEC3", [text])
        signature = self._signature(record, zone.origin)
        return (record,) if signature is None else (record, signature)

    def _denial(self, found: Lookup, qname: dns.name.Name) -> tuple[dns.rrset.RRset, ...]:
        if found.soa is None:
            return ()
        signature = self._signature(found.soa)
        proof: tuple[dns.rrset.RRset, ...] = () if signature is None else (signature,)
        zone = _zone_for(self._zones, found.soa.name)
        if found.rcode != dns.rcode.NOERROR or zone is None:
            return proof
        owner = qname
        if found.answer and found.answer[-1].rdtype == dns.rdatatype.CNAME:
            owner = found.answer[-1][0].target
        node = zone.find(owner) or {}
        return proof + self._nsec(owner, set(node), zone)

    def _delegation(self, child: dns.name.Name, parent: Zone) -> Lookup:
        """The parent's answer to ``DS child``: the signed DS, or a signed proof of none."""
        key = self._keys.get(child)
        if key is not None:
            ds = dns.dnssec.make_ds(child, key.dnskey, "SHA256")
            rrset = dns.rrset.from_rdata(child, parent.soa.ttl, ds)
            signature = self._signature(rrset, parent.origin)
            return Lookup(answer=(rrset,), signatures=() if signature is None else (signature,))
        soa = _negative_soa(parent.soa)
        signature = self._signature(soa, parent.origin)
        proof = self._nsec(child, {dns.rdatatype.NS}, parent, delegation=True)
        return Lookup(soa=soa, denial=(*(() if signature is None else (signature,)), *proof))
