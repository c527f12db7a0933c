"""What an NSEC or NSEC3 record says about one name: which types exist there (RFC 4034, 5155).

``dnssec.Validator`` checks the records' signatures; this module only reads them: whether a
record speaks about the name (an NSEC at it, an NSEC3 whose hash is the name's, or an opt-out
NSEC3 whose span covers it) and which types it lists.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset

_OPT_OUT = 0x01


def _bitmap_types(windows: Iterable[tuple[int, bytes]]) -> set[int]:
    """The types an NSEC/NSEC3 type bitmap lists."""
    found = set()
    for window, bitmap in windows:
        for index, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    found.add(window * 256 + index * 8 + bit)
    return found


def _covers(owner: str, following: str, hashed: str) -> bool:
    """Whether the NSEC3 span from ``owner`` to ``following`` contains ``hashed`` (wrapping)."""
    if owner < following:
        return owner < hashed < following
    return hashed > owner or hashed < following


def denial_types(rrset: dns.rrset.RRset, name: dns.name.Name) -> set[int] | None:
    """The types an NSEC or NSEC3 rrset says exist at ``name``; ``None`` when it says nothing
    about ``name``. An opt-out NSEC3 whose span covers the name's hash gives ``{NS}``: an
    unsigned delegation may hide there (RFC 5155 section 6)."""
    if rrset.rdtype == dns.rdatatype.NSEC:
        return _bitmap_types(rrset[0].windows) if rrset.name == name else None
    if rrset.rdtype != dns.rdatatype.NSEC3:
        return None
    record = rrset[0]
    hashed = dns.dnssec.nsec3_hash(name, record.salt, record.iterations, record.algorithm)
    owner = rrset.name.labels[0].decode("ascii").upper()
    following = base64.b32hexencode(record.next).decode("ascii").rstrip("=")
    if owner == hashed.upper():
        return _bitmap_types(record.windows)
    if record.flags & _OPT_OUT and _covers(owner, following, hashed.upper()):
        return {dns.rdatatype.NS}
    return None
