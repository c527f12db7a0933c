"""The dns-persist-01 record: a standing TXT that names the CA and the ACME account that may issue.

draft-ietf-acme-dns-persist: at ``_validation-persist.<name>`` stands a TXT record in the RFC 8659
issue-value syntax, e.g. ``letsencrypt.org; accounturi=https://…/acct/123; policy=wildcard;
persistUntil=1798761600``. The CA validates a name when one record there names one of its
issuer domain names and the requesting account exactly, is not past ``persistUntil``, and, for
a wildcard, says ``policy=wildcard``. Several records may stand side by side, one per CA or
account; a record of another CA or account is never ours to judge or touch.

Everything here is pure (no DNS, no API, no clock of its own), so the command, the issuer and
the tests judge a record by the same rules.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import ConfigurationError
from ..names import to_ace

PERSIST_LABEL = "_validation-persist"
MAX_ISSUER_NAMES = 10  # the draft: a challenge with more is malformed
MAX_STRING = 255  # octets in one TXT character-string

# RFC 8659 section 4: labels and tags are letters and digits with inner hyphens; a value is
# any visible character but ";" (and no space).
_LABEL = r"[A-Za-z0-9](?:-*[A-Za-z0-9])*"
_ISSUER_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_TAG_RE = re.compile(_LABEL)
_VALUE_RE = re.compile(r"[\x21-\x3a\x3c-\x7e]*")
_DIGITS_RE = re.compile(r"[0-9]+")


class MalformedRecord(ValueError):
    """A TXT value at ``_validation-persist`` that a CA must refuse as malformed."""


@dataclass(frozen=True)
class PersistRecord:
    """One record: the CA (issuer domain name), the account, and what it allows."""

    issuer: str  # lower-case A-label, no trailing dot
    account_uri: str  # compared exactly, as the CA compares it
    wildcard: bool = False  # policy=wildcard: also *.name and every subdomain
    persist_until: int | None = None  # UNIX time; None: no end
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    """Parameters this project does not know, kept as found (CAs must ignore them)."""

    def value(self) -> str:
        """The TXT value, in the draft's spelling (one string while it fits in 255 octets)."""
        parts = [self.issuer, f"accounturi={self.account_uri}"]
        if self.wildcard:
            parts.append("policy=wildcard")
        if self.persist_until is not None:
            parts.append(f"persistUntil={self.persist_until}")
        parts.extend(f"{tag}={value}" for tag, value in self.extra)
        return "; ".join(parts)

    def same_authorization(self, issuer: str, account_uri: str) -> bool:
        """Whether this record speaks for this account at this CA (whatever it allows)."""
        return self.issuer == issuer and self.account_uri == account_uri

    def expired(self, now: float) -> bool:
        return self.persist_until is not None and self.persist_until < now

    def days_left(self, now: float) -> float | None:
        """Days until ``persistUntil`` (negative once past); None when the record has no end."""
        if self.persist_until is None:
            return None
        return (self.persist_until - now) / 86400

    def until_text(self) -> str:
        """``2027-01-01 00:00 UTC``, or ``no end``."""
        if self.persist_until is None:
            return "no end"
        when = datetime.datetime.fromtimestamp(self.persist_until, datetime.timezone.utc)
        return f"{when:%Y-%m-%d %H:%M} UTC"


def record_name(name: str) -> str:
    """Where the CA looks for a name: ``*.Example.de`` → ``_validation-persist.example.de``."""
    text = name.strip()
    return f"{PERSIST_LABEL}.{to_ace(text[2:] if text.startswith('*.') else text)}"


def normalize_issuer(name: str) -> str:
    """An issuer domain name as the draft compares it: lower-case A-labels, no trailing dot."""
    try:
        issuer = to_ace(name)
    except ConfigurationError as e:
        raise MalformedRecord(str(e)) from None
    if not _ISSUER_RE.fullmatch(issuer):
        raise MalformedRecord(
            f"{name!r} is not an issuer domain name (letters, digits, inner hyphens, dots)"
        )
    return issuer


def build(
    issuer: str, account_uri: str, *, wildcard: bool = False, persist_until: int | None = None
) -> PersistRecord:
    """The record for an account at a CA; raises `MalformedRecord` for what no CA would accept."""
    uri = account_uri.strip()
    if not uri or not _VALUE_RE.fullmatch(uri) or "://" not in uri:
        raise MalformedRecord(
            f"{account_uri!r} is not an ACME account URL (e.g. "
            "https://acme-v02.api.letsencrypt.org/acme/acct/123); it cannot contain spaces or ';'"
        )
    if persist_until is not None and persist_until < 0:
        raise MalformedRecord("persistUntil cannot be before 1970")
    return PersistRecord(normalize_issuer(issuer), uri, wildcard, persist_until)


def parse(text: str) -> PersistRecord:
    """A TXT value as a record; `MalformedRecord` says what is wrong with it."""
    issuer_text, _, rest = text.strip().partition(";")
    issuer_text = issuer_text.strip()
    if not issuer_text:
        raise MalformedRecord("it names no CA (the issuer domain name comes first)")
    if not _ISSUER_RE.fullmatch(issuer_text):
        raise MalformedRecord(f"{issuer_text!r} is not an issuer domain name")
    params: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for part in rest.split(";"):
        part = part.strip()  # noqa: PLW2901 - the trimmed parameter is all that is used
        if not part:
            continue
        tag, equals, value = (s.strip() for s in part.partition("="))
        if not equals or not _TAG_RE.fullmatch(tag) or not _VALUE_RE.fullmatch(value):
            raise MalformedRecord(f"{part!r} is not a tag=value parameter")
        key = tag.lower()
        if key in params:
            raise MalformedRecord(f"the parameter {tag} appears twice")
        params[key] = value
        if key not in ("accounturi", "policy", "persistuntil"):
            extra.append((tag, value))
    account_uri = params.get("accounturi")
    if not account_uri:
        raise MalformedRecord("it has no accounturi")
    until = params.get("persistuntil")
    if until is not None and not _DIGITS_RE.fullmatch(until):
        raise MalformedRecord(f"persistUntil={until} is not a UNIX time in seconds")
    return PersistRecord(
        issuer=issuer_text.lower(),
        account_uri=account_uri,
        wildcard=params.get("policy", "").lower() == "wildcard",
        persist_until=None if until is None else int(until),
        extra=tuple(extra),
    )


def check_issuer_names(names: object) -> tuple[str, ...]:
    """A challenge's ``issuer-domain-names``, normalised; `MalformedRecord` if the draft says
    the client must reject it (not a list of names, empty, or more than 10)."""
    if names is None or names in ([], ()):
        raise MalformedRecord("it lists no issuer domain names")
    if not isinstance(names, Sequence) or isinstance(names, str | bytes):
        raise MalformedRecord("its issuer-domain-names is not a list")
    if len(names) > MAX_ISSUER_NAMES:
        raise MalformedRecord(
            f"it lists {len(names)} issuer domain names, more than the {MAX_ISSUER_NAMES} "
            "a CA may send"
        )
    if not all(isinstance(n, str) for n in names):
        raise MalformedRecord("its issuer-domain-names holds something other than names")
    return tuple(normalize_issuer(n) for n in names)


# -- judging what stands --------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """What the records at one name mean for one account at one CA, at one moment."""

    valid: PersistRecord | None  # the record that authorizes (the one that lasts longest)
    ours: tuple[PersistRecord, ...]  # every record of this account at this CA
    other_accounts: tuple[PersistRecord, ...]  # this CA, other accounts
    other_cas: tuple[PersistRecord, ...]
    malformed: tuple[tuple[str, str], ...]  # (value, why)
    wildcard_needed: bool
    now: float

    @property
    def problem(self) -> str | None:
        """Why no record authorizes, in a clause; None when one does."""
        if self.valid is not None:
            return None
        if not self.ours:
            if self.other_accounts:
                uris = ", ".join(r.account_uri for r in self.other_accounts)
                return f"the record for this CA names another account ({uris})"
            if self.malformed:
                return f"the only record is malformed ({self.malformed[0][1]})"
            return "there is no record for this CA and account"
        live = [r for r in self.ours if not r.expired(self.now)]
        if not live:
            return f"its persistUntil has passed ({self.ours[0].until_text()})"
        return "it lacks policy=wildcard, which a wildcard name needs"

    @property
    def conflicting(self) -> bool:
        """Several records of this account at this CA that say different things."""
        return len(set(self.ours)) > 1


def judge(
    values: Iterable[str],
    *,
    issuers: Sequence[str],
    account_uri: str,
    wildcard_needed: bool,
    now: float,
) -> Judgement:
    """Judge the TXT values at one ``_validation-persist`` name for an account at a CA that
    goes by any of `issuers` (normalised names)."""
    ours: list[PersistRecord] = []
    other_accounts: list[PersistRecord] = []
    other_cas: list[PersistRecord] = []
    malformed: list[tuple[str, str]] = []
    for value in sorted(set(values)):
        try:
            record = parse(value)
        except MalformedRecord as e:
            malformed.append((value, str(e)))
            continue
        if record.issuer not in issuers:
            other_cas.append(record)
        elif record.account_uri != account_uri:
            other_accounts.append(record)
        else:
            ours.append(record)
    usable = [r for r in ours if not r.expired(now) and (r.wildcard or not wildcard_needed)]
    # The one that lasts longest; no end lasts longest of all.
    usable.sort(key=lambda r: float("inf") if r.persist_until is None else r.persist_until)
    return Judgement(
        valid=usable[-1] if usable else None,
        ours=tuple(ours),
        other_accounts=tuple(other_accounts),
        other_cas=tuple(other_cas),
        malformed=tuple(malformed),
        wildcard_needed=wildcard_needed,
        now=now,
    )


def too_long(record: PersistRecord) -> bool:
    """Longer than one TXT string: some CAs read only the first string of a record."""
    return len(record.value().encode()) > MAX_STRING
