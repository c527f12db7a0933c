"""DNS names in one canonical form: lower-case ASCII (ACE), no trailing dot.

The API can return names with capitals and in Unicode; users type them any way they like; DNS
compares case-insensitively. Everything the project compares or sends goes through `to_ace`.
A certificate name is one more rule on top (`identifier_name`): where a challenge record can be
written, which the plugin, the hooks' cleanup and `issue` all need without the zone machinery.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import idna

from .errors import ConfigurationError, ZoneError

_MAX_NAME = 253
_MAX_LABEL = 63
CHALLENGE_LABEL = "_acme-challenge"
# After IDNA: letters, digits, hyphen, and underscore (for labels such as _acme-challenge).
_LABEL_RE = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


def _label_to_ace(label: str, name: str) -> str:
    if label.isascii():
        return label.lower()
    try:
        # UTS #46 mapping, non-transitional: the same IDNA 2008 rules as the resolver's
        # dnspython codec (IDNA_2008_Practical), so both sides agree on every name.
        mapped = idna.uts46_remap(label, std3_rules=False, transitional=False)
        return idna.alabel(mapped).decode("ascii")
    except idna.IDNAError as e:
        raise ConfigurationError(
            f"{name!r} is not a valid internationalised domain name ({e}); "
            "check the spelling of the name."
        ) from None


def to_ace(name: str) -> str:
    """``Bücher.Example.DE.`` → ``xn--bcher-kva.example.de``; errors say what is wrong."""
    text = name.strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise ConfigurationError("An empty domain name was given; give a name like example.de.")
    labels = text.split(".")
    if any(not label for label in labels):
        raise ConfigurationError(f"{name!r} has an empty label (two dots in a row).")
    ace = ".".join(_label_to_ace(label, name) for label in labels)
    if any(len(label) > _MAX_LABEL for label in ace.split(".")) or len(ace) > _MAX_NAME:
        raise ConfigurationError(f"{name!r} is too long for DNS (labels ≤ 63, names ≤ 253).")
    if any(c.isspace() or c in "/\\@:" for c in ace):
        raise ConfigurationError(f"{name!r} contains characters that cannot be in a domain name.")
    return ace


def to_unicode(ace: str) -> str:
    """The readable form for messages; the ACE form when it cannot be decoded."""
    try:
        return idna.decode(ace)
    except idna.IDNAError:
        return ace


def is_subdomain(name: str, zone: str) -> bool:
    """Whether ACE `name` is `zone` or below it."""
    return name == zone or name.endswith("." + zone)


def relative_name(name: str, zone: str) -> str:
    """``_acme-challenge.www.example.de`` in ``example.de`` → ``_acme-challenge.www``."""
    if name == zone:
        return ""
    if not name.endswith("." + zone):
        raise ValueError(f"{name} is not in {zone}")
    return name[: -len(zone) - 1]


def identifier_name(domain: str) -> str:
    """The name a certificate domain is validated at: ``*.Example.de.`` → ``example.de``."""
    text = domain.strip()
    wildcard = text.startswith("*.")
    ace = to_ace(text[2:] if wildcard else text)
    labels = ace.split(".")
    if "*" in "".join(labels):
        raise ZoneError(
            f"{domain!r} is not a valid certificate name: a wildcard may only be the whole "
            "first label (*.example.de), once."
        )
    if (bad := bad_label(labels)) is not None:
        raise ZoneError(
            f"{domain!r} is not a valid host name (label {bad!r}); use letters, digits and "
            "hyphens, or the Unicode form of an internationalised name."
        )
    if len(labels) < 2:
        raise ZoneError(f"{domain!r} is a single label; certificates need a full domain name.")
    return ace


def bad_label(labels: Iterable[str]) -> str | None:
    """The first label a record cannot be written at (a ``*`` among them), if any."""
    return next((label for label in labels if not _LABEL_RE.match(label)), None)
