"""The MTA-STS policy that senders enforce (RFC 8461): fetched, parsed, held against the MX hosts.

The ``_mta-sts`` TXT record only announces a policy; what senders act on is the policy at
``https://mta-sts.<domain>/.well-known/mta-sts.txt``. It is fetched as a sender would: over
HTTPS with the certificate checked (chain *and* name), no redirects followed, only a 200 answer
of at most 64 KiB. The host is resolved through the audit's own resolver and the connection
made to that address, with the host name for SNI, ``Host`` and the certificate check.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from ..http_util import deadline
from .certificate import wildcard_match
from .tls import failure_reason

__all__ = [
    "MAX_AGE_LIMIT",
    "PolicyFetch",
    "PolicySeen",
    "StsPolicy",
    "covered_by",
    "fetch_policy",
    "parse_policy",
    "policy_seen",
    "sts_id",
]

PATH = "/.well-known/mta-sts.txt"
MAX_AGE_LIMIT = 31_557_600
"""The largest ``max_age`` RFC 8461 allows (about a year)."""
MAX_BODY = 64 * 1024
MODES = ("enforce", "testing", "none")
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_FIELD = re.compile(r"^([A-Za-z0-9_]+)[ \t]*:[ \t]*(.*?)[ \t]*$")


@dataclass(frozen=True)
class StsPolicy:
    """A parsed policy: its fields, and what makes it invalid for senders (``problems``)."""

    version: str
    mode: str
    mx: tuple[str, ...]
    max_age: int | None
    problems: tuple[str, ...]
    sha256: str
    """SHA-256 of the policy as served: tells a changed policy from the same one."""

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PolicySeen:
    """The TXT id and policy digest an earlier report saw (``--previous-report``)."""

    generated_at: str
    id: str | None
    sha256: str | None


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def policy_seen(document: object, source: str) -> PolicySeen:
    """The MTA-STS part of an earlier ``cp-audit --json`` document; ``ValueError`` naming
    ``source`` when it is not one."""
    if not isinstance(document, dict) or document.get("schema") != "cp-audit/1":
        raise ValueError(f"{source} is not a cp-audit --json document (schema cp-audit/1)")
    sts = _mapping(_mapping(document.get("policies")).get("mta_sts"))
    policy = _mapping(sts.get("policy"))
    seen_id, digest, when = sts.get("id"), policy.get("sha256"), document.get("generated_at")
    return PolicySeen(
        generated_at=when if isinstance(when, str) else "an earlier run",
        id=seen_id if isinstance(seen_id, str) else None,
        sha256=digest if isinstance(digest, str) else None,
    )


@dataclass(frozen=True)
class PolicyFetch:
    """Where the policy was looked for, and the policy or why none was found."""

    url: str
    policy: StsPolicy | None = None
    error: str | None = None


def sts_id(record: str) -> str | None:
    """The ``id`` of a ``v=STSv1; id=...`` record when it has a valid one (1-32 alphanumerics)."""
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() == "id":
            value = value.strip()
            return value if _ID.match(value) else None
    return None


def parse_policy(body: bytes) -> StsPolicy:
    """Read a policy as RFC 8461 section 3.2 writes it; anything senders would reject is listed
    in ``problems`` rather than raised."""
    fields: dict[str, str] = {}
    mx: list[str] = []
    problems: list[str] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", errors="replace")
        problems.append("it is not UTF-8 text")
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if not line.strip():
            continue
        match = _FIELD.match(line)
        if match is None:
            problems.append(f"line {number} is not 'key: value' ({line[:40]!r})")
            continue
        key, value = match.group(1).lower(), match.group(2)
        if key == "mx":
            mx.append(value.lower().rstrip("."))
        elif key in fields and key in ("version", "mode", "max_age"):
            problems.append(f"{key} is given twice")
        else:
            fields.setdefault(key, value)
    version, mode = fields.get("version", ""), fields.get("mode", "")
    max_age = _check(fields, bool(mx), problems)
    return StsPolicy(
        version=version,
        mode=mode,
        mx=tuple(mx),
        max_age=max_age,
        problems=tuple(problems),
        sha256=hashlib.sha256(body).hexdigest(),
    )


def _check(fields: dict[str, str], has_mx: bool, problems: list[str]) -> int | None:
    """Add what senders would reject in the fields to ``problems``; the ``max_age`` if it is
    a number."""
    version, mode = fields.get("version", ""), fields.get("mode", "")
    if version != "STSv1":
        problems.append(f"version is {version!r}, not 'STSv1'" if version else "no version")
    if mode not in MODES:
        problems.append(f"mode is {mode!r}, not enforce, testing or none" if mode else "no mode")
    if not has_mx and mode in ("enforce", "testing"):
        problems.append("no mx line")
    raw_age = fields.get("max_age")
    if raw_age is None:
        problems.append("no max_age")
    elif not raw_age.isdigit() or len(raw_age) > 10:
        problems.append(f"max_age {raw_age!r} is not a number of seconds")
    else:
        return int(raw_age)
    return None


def covered_by(policy: StsPolicy, host: str) -> bool:
    """Whether an ``mx`` pattern of the policy covers the MX host (RFC 8461 section 4.1)."""
    wanted = host.lower().rstrip(".")
    return any(wildcard_match(pattern, wanted) for pattern in policy.mx)


def _get(host: str, address: str, port: int, ca_bundle: str | None, timeout: float) -> bytes:
    """The policy's bytes, or ``OSError``/``ValueError`` saying why there are none.

    ``timeout`` bounds each step; the whole fetch gets three times that, so a server that
    drips its answer a byte at a time cannot hold the audit.
    """
    context = ssl.create_default_context(cafile=ca_bundle)  # chain and name, as senders check
    open_socket: list[socket.socket] = [
        socket.create_connection((address.strip("[]"), port), timeout=timeout)
    ]

    def cut_off() -> None:
        with contextlib.suppress(OSError):
            open_socket[-1].shutdown(socket.SHUT_RDWR)  # a blocked read returns at once

    with deadline(3 * timeout, cut_off) as overdue:
        try:
            tls = context.wrap_socket(
                open_socket[0], server_hostname=host, do_handshake_on_connect=False
            )
            open_socket.append(tls)  # from now on the deadline cuts this one off
            tls.do_handshake()
            body = _read_policy(host, port, tls, timeout)
        except (OSError, ValueError, http.client.HTTPException):
            if overdue.is_set():
                raise ValueError(f"it took more than {3 * timeout:g} s to answer") from None
            raise
        finally:
            for sock in open_socket:
                sock.close()
    if overdue.is_set():  # cut off mid-body: what arrived is not the policy
        raise ValueError(f"it took more than {3 * timeout:g} s to answer")
    return body


def _read_policy(host: str, port: int, tls: ssl.SSLSocket, timeout: float) -> bytes:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    connection.sock = tls  # already connected, to the address the audit resolved
    try:
        connection.request("GET", PATH, headers={"User-Agent": "cp-audit (MTA-STS check)"})
        response = connection.getresponse()
        if response.status != 200:
            where = response.getheader("Location")
            detail = f" to {where}" if where and 300 <= response.status < 400 else ""
            raise ValueError(f"HTTP {response.status} {response.reason}{detail}")
        kind = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "text/plain":
            raise ValueError(f"it is served as {kind or 'no content type'}, not text/plain")
        body = response.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise ValueError(f"it is larger than {MAX_BODY // 1024} KiB")
        return body
    finally:
        connection.close()


def fetch_policy(
    domain: str,
    addresses: Sequence[str],
    *,
    port: int = 443,
    ca_bundle: str | None = None,
    timeout: float = 10.0,
) -> PolicyFetch:
    """Fetch and parse the policy of ``domain`` from the first of ``addresses`` that answers.

    Never raises for network, TLS or HTTP trouble: the result's ``error`` says what happened.
    """
    host = f"mta-sts.{domain}"
    url = f"https://{host}{PATH}" if port == 443 else f"https://{host}:{port}{PATH}"
    if not addresses:
        return PolicyFetch(url, error=f"{host} has no A or AAAA record")
    error = ""
    for address in addresses:
        try:
            body = _get(host, address, port, ca_bundle, timeout)
        except ssl.SSLCertVerificationError as failure:
            reason = failure_reason(failure).rstrip(".")
            error = f"the certificate of {host} is not accepted ({reason})"
        except (OSError, ValueError, http.client.HTTPException) as failure:
            reason = failure_reason(failure) if isinstance(failure, OSError) else str(failure)
            error = f"{host} ({address}) answered no policy: {reason}"
        else:
            return PolicyFetch(url, policy=parse_policy(body))
    return PolicyFetch(url, error=error)
