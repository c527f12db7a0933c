"""The rules for MTA-STS: what the announced policy means to senders that enforce it (RFC 8461).

Anything that makes senders treat the domain as having no policy (more than one TXT record, no
valid id, a policy they cannot fetch or parse) is a warning: mail still flows, unprotected. An
MX host that no ``mx`` pattern covers is critical in ``enforce`` mode, where senders refuse to
deliver to it, and a warning in ``testing`` mode, where they only report it.
"""

from __future__ import annotations

from collections.abc import Iterator

from .findings import Finding, Severity
from .maildns import PolicyRecord
from .mtasts import MAX_AGE_LIMIT, covered_by, sts_id
from .results import AuditResult

_NONE = "senders treat the domain as having no MTA-STS policy"


def _record_findings(record: PolicyRecord) -> Iterator[Finding]:
    """The TXT records: one, with a valid id, or senders ignore them."""
    if record.count > 1:
        yield Finding(
            Severity.WARNING, record.name, f"{record.count} v=STSv1 records: {_NONE}; keep one"
        )
    for text in record.records:
        if sts_id(text) is None:
            yield Finding(
                Severity.WARNING,
                record.name,
                f"{text!r} has no valid id (1 to 32 letters and digits): {_NONE}",
            )


def mta_sts_findings(result: AuditResult) -> Iterator[Finding]:
    record, fetched = result.mta_sts, result.mta_sts_policy
    if not record.present or fetched is None:
        return
    none = _NONE
    yield from _record_findings(record)
    current_id = sts_id(record.record or "")
    policy = fetched.policy
    if policy is None:
        yield Finding(
            Severity.WARNING,
            "MTA-STS policy",
            f"the TXT record announces a policy, but {fetched.error}: {none}",
        )
        return
    if not policy.valid:
        yield Finding(
            Severity.WARNING,
            "MTA-STS policy",
            f"{fetched.url} is not a valid policy ({'; '.join(policy.problems)}): {none}",
        )
        return
    if policy.max_age is not None and policy.max_age > MAX_AGE_LIMIT:
        yield Finding(
            Severity.WARNING,
            "MTA-STS policy",
            f"max_age {policy.max_age} is beyond RFC 8461's limit of {MAX_AGE_LIMIT} s "
            "(a year); senders may cap or refuse it",
        )
    if policy.mode == "none":
        yield Finding(Severity.INFO, "MTA-STS policy", "mode none: senders enforce nothing")
    previous = result.previous_mta_sts
    if (
        previous is not None
        and previous.sha256 is not None
        and previous.id == current_id
        and previous.sha256 != policy.sha256
    ):
        yield Finding(
            Severity.WARNING,
            record.name,
            f"the policy changed since the report of {previous.generated_at}, but the id is "
            f"still {current_id!r}: senders that cached the old policy keep it for up to "
            f"max_age ({policy.max_age} s); give the TXT record a new id",
        )
    patterns = ", ".join(policy.mx)
    for gateway in result.gateways:
        if policy.mode == "none" or covered_by(policy, gateway.host):
            continue
        if policy.mode == "enforce":
            yield Finding(
                Severity.CRITICAL,
                gateway.host,
                f"no mx pattern of the MTA-STS policy covers it ({patterns}): senders that "
                "enforce the policy will not deliver to this host",
            )
        else:
            yield Finding(
                Severity.WARNING,
                gateway.host,
                f"no mx pattern of the MTA-STS policy covers it ({patterns}): in testing "
                "mode senders only report it; in enforce mode they would not deliver here",
            )
