"""The rules for DANE and DNSSEC: what a gateway's TLSA records mean to the senders that use them.

Senders use TLSA records only when the records and the host's addresses validate with DNSSEC
(RFC 7672). So a match relaxes the certificate rules only then; unvalidated records are "not
effective" (a warning, and the certificate is judged as if there were none); and a host whose
DNSSEC answers are bogus cannot be looked up by validating senders at all (critical).
"""

from __future__ import annotations

from collections.abc import Iterator

from .findings import Finding, Severity
from .results import CheckedProbe, Gateway


def dane_findings(checked: CheckedProbe, subject: str, effective: bool) -> Iterator[Finding]:
    """What one probe's TLSA match means, given whether DANE is in effect for its host."""
    dane, cert = checked.dane, checked.probe.certificate
    if dane is None or cert is None or dane.status == "none":
        return
    record = dane.matched
    if dane.status == "unchecked":
        yield Finding(
            Severity.INFO,
            subject,
            "DANE-TA records could not be checked: this Python does not show the chain the "
            "server sent",
        )
    elif record is not None and effective:
        about = (
            "DANE-EE, DNSSEC-validated): names, chain and expiry do not matter to DANE senders"
            if dane.ee_match
            else "DANE-TA, DNSSEC-validated, an issuer the server sent): the chain need not "
            "lead to a public root; names and expiry still count"
        )
        yield Finding(
            Severity.INFO,
            subject,
            f"matches TLSA {record.usage} {record.selector} {record.matching_type} ({about}",
        )
    elif record is not None:
        yield Finding(
            Severity.INFO,
            subject,
            f"matches TLSA {record.usage} {record.selector} {record.matching_type}, but DANE is "
            "not in effect: names, chain and expiry keep their full weight",
        )
    elif dane.status == "mismatch" and effective:
        yield Finding(
            Severity.CRITICAL,
            subject,
            "certificate matches none of the DANE TLSA records: DANE senders will not deliver; "
            f"publish the new TLSA record (3 1 1 {cert.spki_sha256}) before changing keys",
        )
    elif dane.status == "mismatch":
        yield Finding(
            Severity.INFO,
            subject,
            "certificate matches none of the TLSA records: harmless while they are not "
            "DNSSEC-validated, fatal once they are; publish 3 1 1 "
            f"{cert.spki_sha256} before signing the zone",
        )


def dnssec_findings(gateway: Gateway) -> Iterator[Finding]:
    """Bogus answers for the host, or TLSA records that senders will not use."""
    state = gateway.dnssec
    if state is None:
        return
    bogus = state.bogus
    if bogus is not None:
        yield Finding(
            Severity.CRITICAL,
            gateway.host,
            f"DNSSEC validation fails (bogus): {bogus.reason}; validating senders cannot look "
            "this host up and hold the mail",
        )
    elif gateway.tlsa.records and not state.dane_effective:
        if state.tlsa is not None and not state.tlsa.secure:
            part, why = "the TLSA records are", state.tlsa
        else:
            part, why = f"the addresses of {gateway.host} are", state.addresses
        yield Finding(
            Severity.WARNING,
            gateway.tlsa.name,
            f"DANE not effective: {part} not DNSSEC-validated ({why.state}: {why.reason}); "
            "senders ignore the TLSA records, so the certificate is judged without them",
        )
