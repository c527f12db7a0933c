"""Typed results of the Control Panel API, each parsed once from the JSON the API sends.

The API's documents are only partly documented and come in more than one shape (the guide's
``encryption {text}`` versus ``crypt_type_in/out {id,text}`` + ``smtp_dialog`` seen in public
connectors), so every parser here takes what it knows, tolerates what it does not, and never
fails on an unknown or missing field: an audit should not stop because one e-mail is odd.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

UTC = datetime.timezone.utc

API_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""How the API writes and reads times: UTC, whole seconds."""


def format_api_time(moment: datetime.datetime) -> str:
    """A time in the API's format (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(API_TIME_FORMAT)


def parse_api_time(text: object) -> datetime.datetime | None:
    """``2018-07-18T09:14:56Z`` (or any ISO 8601 time) as an aware UTC time; ``None`` if not."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Login:
    """What a login returns: the user's scope (object id). The session token stays in the client."""

    object_id: int | None


@dataclass(frozen=True)
class HierarchyObject:
    """A partner, customer (domain) or user in the Control Panel's object tree."""

    id: int
    name: str
    is_user: bool = False
    children_count: int | None = None
    children: tuple[HierarchyObject, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> HierarchyObject | None:
        """One node and its children; ``None`` for a node without an integer id."""
        ident = _int(data.get("id"))
        if ident is None:
            return None
        raw_children = data.get("children")
        children = (
            tuple(
                child
                for child in (cls.from_api(c) for c in raw_children if isinstance(c, Mapping))
                if child is not None
            )
            if isinstance(raw_children, list)
            else ()
        )
        return cls(
            id=ident,
            name=_str(data.get("name")),
            is_user=bool(data.get("is_user", False)),
            children_count=_int(data.get("children_count")),
            children=children,
        )

    def walk(self) -> Sequence[HierarchyObject]:
        """This node and every node below it, depth first."""
        nodes: list[HierarchyObject] = [self]
        for child in self.children:
            nodes.extend(child.walk())
        return nodes


@dataclass(frozen=True)
class Coded:
    """An ``{id, text}`` pair such as a classification, a status or a crypt type."""

    id: int | None
    text: str

    @classmethod
    def from_api(cls, data: object) -> Coded | None:
        if isinstance(data, Mapping):
            return cls(id=_int(data.get("id")), text=_str(data.get("text")))
        if isinstance(data, str) and data:
            return cls(id=None, text=data)
        return None


class Direction(enum.IntEnum):
    """The API's direction numbers (search filter ``direction: [1]`` / ``[2]``)."""

    INBOUND = 1
    OUTBOUND = 2


class Encryption(str, enum.Enum):
    """How an e-mail travelled, strongest first (the order the Control Panel prefers)."""

    SMIME = "S/MIME"
    PGP = "PGP"
    EMIG = "EmiG"
    DANE = "DANE"
    TLS = "TLS"
    WEBSAFE = "Websafe"
    NONE = "none"
    UNKNOWN = "unknown"


_ENCRYPTION_WORDS = {
    "SMIME": Encryption.SMIME,
    "S/MIME": Encryption.SMIME,
    "S-MIME": Encryption.SMIME,
    "PGP": Encryption.PGP,
    "OPENPGP": Encryption.PGP,
    "EMIG": Encryption.EMIG,
    "DANE": Encryption.DANE,
    "TLS": Encryption.TLS,
    "STARTTLS": Encryption.TLS,
    "SSL": Encryption.TLS,
    "WEBSAFE": Encryption.WEBSAFE,
    "NONE": Encryption.NONE,
    "NO": Encryption.NONE,
    "PLAIN": Encryption.NONE,
    "UNENCRYPTED": Encryption.NONE,
}


def encryption_from_text(text: str) -> Encryption:
    """``"EMIG"``, ``"TLS"``, ``"NONE"``, ... as an :class:`Encryption` (``UNKNOWN`` if unseen)."""
    word = text.strip().upper().replace(" ", "")
    if not word:
        return Encryption.UNKNOWN
    return _ENCRYPTION_WORDS.get(word, Encryption.UNKNOWN)


@dataclass(frozen=True)
class SmtpTls:
    """The TLS part of an ``smtp_dialog`` string (``...;TLS_VER=TLSv1.3;TLS_CSUITE=...``)."""

    version: str
    cipher: str
    suite: str
    warning: str
    identity: str

    @classmethod
    def parse(cls, dialog: object) -> SmtpTls | None:
        """The last TLS fields found in the dialog; ``None`` when it has none."""
        if isinstance(dialog, list):
            dialog = ";".join(str(part) for part in dialog)
        if not isinstance(dialog, str) or "=" not in dialog:
            return None
        fields: dict[str, str] = {}
        for part in dialog.replace("\n", ";").split(";"):
            key, sep, value = part.partition("=")
            if sep:
                fields[key.strip().upper()] = value.strip()
        keys = ("TLS_VER", "CIPHER", "TLS_CSUITE", "TLS_WARN", "IDENTITY")
        if not any(k in fields for k in keys):
            return None
        return cls(
            version=fields.get("TLS_VER", ""),
            cipher=fields.get("CIPHER", ""),
            suite=fields.get("TLS_CSUITE", ""),
            warning=fields.get("TLS_WARN", ""),
            identity=fields.get("IDENTITY", ""),
        )

    @property
    def used(self) -> bool:
        """True when the dialog says a TLS version was negotiated."""
        return bool(self.version) and self.version.upper() not in ("NONE", "-", "0")


# Fields that, where the API sends one, identify an e-mail better than its content does.
_ID_FIELDS = ("id", "message_id", "msg_id", "mail_id", "uuid")


@dataclass(frozen=True)
class Email:
    """One e-mail from a search, in either documented shape.

    ``encryption`` is the method this e-mail travelled with, read from ``encryption.text``
    (the guide's shape) or from ``crypt_type_in``/``crypt_type_out`` by direction (the
    connectors' shape), falling back to the TLS version in ``smtp_dialog``. ``key`` tells two
    e-mails apart when paging or split windows return one twice.
    """

    date: datetime.datetime | None
    direction: Direction | None
    owner: str
    owner_domain: str
    comm_partner: str
    gateway: str
    subject: str
    source_ip: str
    source_hostname: str
    destination_hostname: str
    classification: Coded | None
    status: Coded | None
    encryption: Encryption
    encryption_text: str
    crypt_type_in: Coded | None
    crypt_type_out: Coded | None
    smtp_tls: SmtpTls | None
    key: str = field(repr=False)

    @property
    def partner_domain(self) -> str:
        """The domain of the communication partner's address (lower case; "" if none)."""
        _, _, domain = self.comm_partner.rpartition("@")
        return domain.strip().strip(">").lower()

    @property
    def encrypted(self) -> bool:
        """True when some encryption was used (unknown counts as not known to be encrypted)."""
        return self.encryption not in (Encryption.NONE, Encryption.UNKNOWN)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Email:
        direction_number = _int(data.get("direction"))
        direction = Direction(direction_number) if direction_number in (1, 2) else None
        crypt_in = Coded.from_api(data.get("crypt_type_in"))
        crypt_out = Coded.from_api(data.get("crypt_type_out"))
        smtp_tls = SmtpTls.parse(data.get("smtp_dialog"))
        encryption_text, encryption = _encryption(
            Coded.from_api(data.get("encryption")), direction, crypt_in, crypt_out, smtp_tls
        )
        return cls(
            date=parse_api_time(data.get("date")),
            direction=direction,
            owner=_str(data.get("owner")),
            owner_domain=_str(data.get("owner_domain")),
            comm_partner=_str(data.get("comm_partner")),
            gateway=_str(data.get("gateway")),
            subject=_str(data.get("subject")),
            source_ip=_str(data.get("source_ip")),
            source_hostname=_str(data.get("source_hostname")),
            destination_hostname=_str(data.get("destination_hostname")),
            classification=Coded.from_api(data.get("classification")),
            status=Coded.from_api(data.get("status")),
            encryption=encryption,
            encryption_text=encryption_text,
            crypt_type_in=crypt_in,
            crypt_type_out=crypt_out,
            smtp_tls=smtp_tls,
            key=email_key(data),
        )


def email_key(data: Mapping[str, Any]) -> str:
    """An identity for de-duplication: the API's id where it sends one, else the content hash.

    Two documents with identical content cannot be told apart by anyone, so counting them once
    where windows meet is the best any client can do.
    """
    for name in _ID_FIELDS:
        value = data.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return f"{name}:{value}"
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _encryption(
    stated: Coded | None,
    direction: Direction | None,
    crypt_in: Coded | None,
    crypt_out: Coded | None,
    smtp_tls: SmtpTls | None,
) -> tuple[str, Encryption]:
    """The text the API gave for the method, and what it means."""
    if stated is not None and stated.text:
        return stated.text, encryption_from_text(stated.text)
    # The leg the mail's direction names is the one the gateway handled for it.
    ordered = (crypt_out, crypt_in) if direction is Direction.OUTBOUND else (crypt_in, crypt_out)
    for crypt in ordered:
        if crypt is not None and crypt.text:
            return crypt.text, encryption_from_text(crypt.text)
    if smtp_tls is not None:
        return (smtp_tls.version or "NONE"), (Encryption.TLS if smtp_tls.used else Encryption.NONE)
    return "", Encryption.UNKNOWN


@dataclass(frozen=True)
class EmailPage:
    """One page of a search: the e-mails and how many the whole window holds."""

    emails: tuple[Email, ...]
    num_found_items: int | None


@dataclass(frozen=True)
class StatisticsEntry:
    """One line of ``emails/statistics/by_time``: a classification and how many e-mails had it."""

    type: int | None
    name: str
    value: int

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StatisticsEntry:
        return cls(
            type=_int(data.get("type")),
            name=_str(data.get("name")),
            value=_int(data.get("value")) or 0,
        )


@dataclass(frozen=True)
class Whitelabeling:
    """A domain's customisation; ``domain`` is the host name its Control Panel is served under.

    Logo and favicon (base64 images) are left out: nothing here needs them.
    """

    id: int | None
    domain: str
    theme: str
    primary_colour: str
    email_sender: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Whitelabeling:
        return cls(
            id=_int(data.get("id")),
            domain=_str(data.get("domain")).strip().rstrip(".").lower(),
            theme=_str(data.get("theme")),
            primary_colour=_str(data.get("primary_colour")),
            email_sender=_str(data.get("email_sender")),
        )
