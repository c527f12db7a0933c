"""Which name servers to ask, and what one of them said: the values the DNS client passes around.

``host[:port]`` lists (the plugin's ``--dns-variomedia-nameservers``, the command's
``--nameservers``, cp-audit's ``--dns-server``) are checked here, so that every option accepts
and refuses the same spellings.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import dns.exception
import dns.name

from .errors import ConfigurationError

_HOST_PORT = re.compile(r"^(?P<host>[^\s:\[\]]+)(?::(?P<port>[^:]*))?$")
_BRACKETED = re.compile(r"^\[(?P<host>[^\]]+)\](?::(?P<port>.*))?$")
_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$")


@dataclass(frozen=True)
class NameServer:
    """One address of one name server; ``host`` is its name, or the address again if unnamed."""

    host: str
    address: str
    port: int = 53

    def __str__(self) -> str:
        if self.port == 53:
            endpoint = self.address
        elif ":" in self.address:
            endpoint = f"[{self.address}]:{self.port}"
        else:
            endpoint = f"{self.address}:{self.port}"
        if self.host and self.host != self.address:
            return f"{self.host} ({endpoint})"
        return endpoint


@dataclass(frozen=True)
class TxtAnswer:
    """What one server said about the TXT records at one name.

    Exactly one of three outcomes: ``values`` (the TXT strings, possibly empty for NXDOMAIN or
    NODATA), or ``error`` (a short reason such as ``"timeout after 3 s"``, ``"SERVFAIL"``,
    ``"REFUSED"``, ``"network error: ..."``) when the server gave no usable answer.
    """

    server: NameServer
    name: str
    values: frozenset[str] = frozenset()
    nxdomain: bool = False
    error: str | None = None
    tcp: bool = False
    """Whether the answer came over TCP (after a truncated UDP answer)."""
    lame: bool = False
    """The server answered without the AA bit: it does not serve the zone (a resolver, a
    forwarder, a lame delegation). ``error`` says so too; unlike a timeout, this lasts."""

    @property
    def failed(self) -> bool:
        """The server did not answer usefully; ``error`` says why."""
        return self.error is not None

    def describe(self) -> str:
        """A short phrase for logs: ``2 values``, ``NXDOMAIN``, ``no TXT record``, or the error."""
        if self.error is not None:
            return self.error
        if self.values:
            return f"{len(self.values)} value{'s' if len(self.values) != 1 else ''}"
        return "NXDOMAIN" if self.nxdomain else "no TXT record"


def split_host_port(item: str, *, default_port: int, option: str) -> tuple[str, int]:
    bad = ConfigurationError(f"{item!r} in {option} is not host[:port]")
    bracketed = _BRACKETED.match(item)
    if bracketed is not None:
        host, port_text = bracketed["host"], bracketed["port"]
        if not is_address(host) or ":" not in host:
            raise bad
    elif item.count(":") > 1:
        host, port_text = item, None  # a bare IPv6 address; a port needs brackets
        if not is_address(host):
            raise bad
    else:
        plain = _HOST_PORT.match(item)
        if plain is None:
            raise bad
        host, port_text = plain["host"], plain["port"]
        if not is_address(host) and not _valid_hostname(host):
            raise bad
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise bad
    return host, int(port_text)


def _valid_hostname(host: str) -> bool:
    if host.isascii():
        return _HOSTNAME.match(host) is not None
    try:
        dns.name.from_text(host, idna_codec=dns.name.IDNA_2008_Practical)
    except dns.exception.DNSException:
        return False
    return True


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
