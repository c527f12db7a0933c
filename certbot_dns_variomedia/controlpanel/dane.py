"""Does a gateway's certificate match the TLSA records at ``_25._tcp.<mx>`` (RFC 6698, 7672)?

For SMTP only DANE-EE (usage 3) and DANE-TA (usage 2) count; PKIX-TA/EE (0, 1) are unusable
(RFC 7672 3.1.3). A DANE-EE record matches the server's own certificate; a DANE-TA record
matches a certificate the server sent after its own, from which the server's certificate must
really be issued (each signature checked, so that appending the anchor to any chain does not
count). A DANE-TA anchor that the server does not send (only its key published) is not found
here. Whether senders *use* the records depends on DNSSEC, which ``dnssec.py`` decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from .certificate import Certificate

DaneStatus = Literal["none", "match", "ta_match", "mismatch", "unusable", "unchecked"]
"""``match``: a DANE-EE record; ``ta_match``: a DANE-TA record; ``unchecked``: DANE-TA records
but no chain to match them against (a Python that cannot show the chain)."""

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

    @property
    def ta_match(self) -> bool:
        """True when a DANE-TA record matches: the chain need not reach a public root."""
        return self.status == "ta_match"


def _issued_by(child: Certificate, issuer: Certificate) -> bool:
    try:
        x509.load_der_x509_certificate(child.der).verify_directly_issued_by(
            x509.load_der_x509_certificate(issuer.der)
        )
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _anchored(
    records: Sequence[TLSARecord], certificate: Certificate, chain: Sequence[Certificate]
) -> TLSARecord | None:
    """The DANE-TA record that matches a certificate of ``chain`` which, signature by
    signature, issued ``certificate``; ``None`` if there is none."""
    child = certificate
    for issuer in chain:
        if not _issued_by(child, issuer):
            return None
        for record in records:
            if record.usage == 2 and record.matches(issuer):
                return record
        child = issuer
    return None


def check_tlsa(
    records: Sequence[TLSARecord],
    certificate: Certificate,
    chain: Sequence[Certificate] | None = (),
) -> DaneResult:
    """Judge ``certificate`` and the ``chain`` sent after it (``None``: not known) against the
    TLSA records of its host."""
    if not records:
        return DaneResult("none")
    for record in records:
        if record.usage == 3 and record.matches(certificate):
            return DaneResult("match", record)
    usages = {r.usage for r in records}
    if 2 in usages:
        if chain is None:
            return DaneResult("unchecked")
        anchor = _anchored(records, certificate, chain)
        if anchor is not None:
            return DaneResult("ta_match", anchor)
    if usages & {2, 3}:
        return DaneResult("mismatch")
    return DaneResult("unusable")
