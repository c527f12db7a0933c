"""Does a gateway's certificate match the TLSA records at ``_25._tcp.<mx>`` (RFC 6698, 7672)?

For SMTP only DANE-EE (usage 3) and DANE-TA (usage 2) count; PKIX-TA/EE (0, 1) are unusable
(RFC 7672 3.1.3). A DANE-EE match makes the certificate's names, chain and dates irrelevant to
DANE senders, which is why the audit then stops judging them. DANE-TA needs the server's whole
chain, which Python before 3.13 does not expose, so it is reported as not checked.
DNSSEC validation of the records is not done here: the audit says whether they *match*.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .certificate import Certificate

DaneStatus = Literal["none", "match", "mismatch", "unusable", "unchecked"]

USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}


@dataclass(frozen=True)
class TLSARecord:
    """One TLSA record: certificate usage, selector, matching type, association data."""

    usage: int
    selector: int
    matching_type: int
    data: bytes

    @classmethod
    def from_rdata(cls, rdata: object) -> TLSARecord:
        """From a dnspython TLSA rdata (``usage``, ``selector``, ``mtype``, ``cert``)."""
        return cls(
            usage=int(getattr(rdata, "usage", -1)),
            selector=int(getattr(rdata, "selector", -1)),
            matching_type=int(getattr(rdata, "mtype", -1)),
            data=bytes(getattr(rdata, "cert", b"")),
        )

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.matching_type} {self.data.hex()}"

    def matches(self, certificate: Certificate) -> bool:
        """Whether this record's data is the selected part of ``certificate``."""
        if self.selector == 0:
            selected = certificate.der
        elif self.selector == 1:
            selected = certificate.spki_der
        else:
            return False
        if self.matching_type == 0:
            return selected == self.data
        if self.matching_type == 1:
            return hashlib.sha256(selected).digest() == self.data
        if self.matching_type == 2:
            return hashlib.sha512(selected).digest() == self.data
        return False


@dataclass(frozen=True)
class DaneResult:
    """The outcome for one certificate: ``status`` and, on a match, the record that matched."""

    status: DaneStatus
    matched: TLSARecord | None = None

    @property
    def ee_match(self) -> bool:
        """True when a DANE-EE record matches: names, chain and dates no longer matter."""
        return self.status == "match"


def check_tlsa(records: Sequence[TLSARecord], certificate: Certificate) -> DaneResult:
    """Judge ``certificate`` against the TLSA records of its host."""
    if not records:
        return DaneResult("none")
    for record in records:
        if record.usage == 3 and record.matches(certificate):
            return DaneResult("match", record)
    usages = {r.usage for r in records}
    if 2 in usages:
        return DaneResult("unchecked")
    if 3 in usages:
        return DaneResult("mismatch")
    return DaneResult("unusable")
