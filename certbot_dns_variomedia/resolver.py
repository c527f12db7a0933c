"""The project's only DNS client: find a zone's name servers and ask each of them directly.

Before the CA may validate, every authoritative server of the zone must answer with the TXT
values just written. A recursive resolver cannot tell us that (it answers from one server, and
from its cache), so :meth:`Resolver.query_txt` asks one authoritative server at a time, without
recursion, and reports exactly what that server said, including *why* it said nothing. Lookups
that are fine from a recursive resolver (NS, A/AAAA, CNAME, MX, TLSA, ...) go through the
system's resolver configuration or a bootstrap list the caller gives (tests: a loopback server).

DNS queries are free (unlike the rate-limited API), so callers may poll often. Names are
normalized one way everywhere: lower-case, IDN labels in ACE form, no trailing dot.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from collections.abc import Sequence

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from .errors import ConfigurationError, DNSLookupError
from .names import to_ace
from .nameservers import NameServer, TxtAnswer, is_address, split_host_port

try:
    from dns.nameserver import Do53Nameserver
except ImportError:  # pragma: no cover - dnspython < 2.4
    Do53Nameserver = None  # type: ignore[assignment,misc]

__all__ = [
    "DEFAULT_TIMEOUT",
    "DNSLookupError",
    "Resolver",
    "normalize_name",
    "parse_nameservers",
    "txt_value",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0
"""Seconds one query may take; a server slower than this is as good as absent to a CA."""

_EDNS_PAYLOAD = 1232  # the DNS Flag Day 2020 size: no IP fragmentation, TCP beyond it
# How many CNAME links any name may take, in an answer or across lookups: real chains have one
# or two; more is a loop or a mistake.
MAX_CNAME_CHAIN = 8
_NAMESERVERS_OPTION = "--dns-variomedia-nameservers"


def normalize_name(name: str | dns.name.Name) -> str:
    """``Bücher.Example.DE.`` → ``xn--bcher-kva.example.de``: how names are compared and shown.

    Raises :class:`ConfigurationError` for names DNS cannot carry (empty labels, too long, invalid
    IDN): strings go through `names.to_ace`, the project's one rule for names.
    """
    if isinstance(name, dns.name.Name):
        return name.to_text(omit_final_dot=True).lower()
    return to_ace(name)


def txt_value(rdata: dns.rdata.Rdata) -> str:
    """One TXT record as one string: its character-strings joined, as DNS-01 validators do.

    A value longer than 255 octets is stored as several strings; Let's Encrypt (and Pebble) join
    them without separator before comparing, so we must too.
    """
    strings: Sequence[bytes] = getattr(rdata, "strings", ())
    return b"".join(strings).decode("utf-8", errors="backslashreplace")


def parse_nameservers(
    spec: str,
    *,
    resolver: Resolver | None = None,
    port: int = 53,
    option: str = _NAMESERVERS_OPTION,
) -> list[NameServer]:
    """Parse ``host[:port]`` items separated by commas; names become one entry per address.

    IPv6 addresses are written ``[::1]:5353`` or, without a port, bare ``::1``. Host names are
    resolved to A and AAAA through ``resolver`` (default: the system's configuration). ``port``
    applies to items without one. Errors name the item and ``option``.
    """
    items = [item.strip() for item in spec.split(",")]
    if not any(items):
        raise ConfigurationError(f"{option} is empty; give host[:port] items separated by commas")
    servers: list[NameServer] = []
    for item in items:
        if not item:
            continue
        host, item_port = split_host_port(item, default_port=port, option=option)
        if is_address(host):
            address = str(ipaddress.ip_address(host))  # one spelling: "::0001" is "::1"
            servers.append(NameServer(address, address, item_port))
            continue
        resolver = resolver or Resolver()
        try:
            addresses = resolver.addresses(host)
        except DNSLookupError as exc:
            raise ConfigurationError(f"{item!r} in {option} does not resolve: {exc}") from None
        if not addresses:
            raise ConfigurationError(
                f"{item!r} in {option} does not resolve: {host} has no A or AAAA record"
            )
        servers.extend(NameServer(normalize_name(host), a, item_port) for a in addresses)
    return list(dict.fromkeys(servers))  # drop duplicates, keep the order given


class Resolver:
    """DNS lookups for the plugin and the audit.

    ``bootstrap`` lists the servers for recursive-style lookups (``None``: the system's
    configuration, ``/etc/resolv.conf``). ``timeout`` bounds each query. ``port`` is where
    authoritative servers found by :meth:`authoritative_servers` are asked (53; tests change
    it). ``skip_unroutable`` leaves out name server addresses this host has no route to (an
    IPv6 address on an IPv4-only machine would otherwise fail every round and block the wait).
    """

    def __init__(
        self,
        bootstrap: Sequence[NameServer] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        port: int = 53,
        skip_unroutable: bool = True,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self.port = port
        self.skip_unroutable = skip_unroutable
        self.bootstrap = tuple(bootstrap) if bootstrap is not None else None
        self._stub = _make_stub_resolver(self.bootstrap, timeout)
        self._dnssec_stub: dns.resolver.Resolver | None = None

    def __repr__(self) -> str:
        where = "system" if self.bootstrap is None else ", ".join(map(str, self.bootstrap))
        return f"Resolver(bootstrap={where}, timeout={self.timeout:g}, port={self.port})"

    # -- recursive-style lookups ---------------------------------------------------------------

    def query(self, name: str, rdtype: str | dns.rdatatype.RdataType) -> list[dns.rdata.Rdata]:
        """The records of type ``rdtype`` at ``name`` via the bootstrap resolver.

        CNAMEs are followed by the resolver. NXDOMAIN and NODATA give ``[]``; a failure (timeout,
        SERVFAIL from every server, ...) raises :class:`DNSLookupError`.
        """
        kind = dns.rdatatype.RdataType.make(rdtype)
        qname = _to_dns_name(name)
        label = f"{dns.rdatatype.to_text(kind)} lookup for {normalize_name(qname)}"
        try:
            answer = self._resolve(self._stub, qname, kind, label)
        except dns.resolver.NXDOMAIN:
            logger.debug("%s: NXDOMAIN", label)
            return []
        records = list(answer.rrset) if answer.rrset is not None else []
        logger.debug("%s: %d record(s)", label, len(records))
        return records

    def message(
        self,
        name: str | dns.name.Name,
        rdtype: str | dns.rdatatype.RdataType,
        *,
        dnssec: bool = False,
    ) -> dns.message.Message:
        """The bootstrap resolver's whole answer: rcode, answer and authority sections.

        For what :meth:`query` leaves out: NXDOMAIN versus NODATA, and, with ``dnssec``, the
        RRSIG/NSEC/NSEC3 records (DO bit) of data the resolver is asked not to validate (CD
        bit), so ``dnssec.py`` can validate it itself and tell bogus data from a failing
        server. Raises :class:`DNSLookupError` like :meth:`query`.
        """
        kind = dns.rdatatype.RdataType.make(rdtype)
        qname = _to_dns_name(name)
        label = f"{dns.rdatatype.to_text(kind)} lookup for {normalize_name(qname)}"
        if not dnssec:
            stub = self._stub
        else:
            if self._dnssec_stub is None:
                self._dnssec_stub = _make_stub_resolver(self.bootstrap, self.timeout)
                self._dnssec_stub.use_edns(0, dns.flags.DO, _EDNS_PAYLOAD)
                self._dnssec_stub.flags = dns.flags.RD | dns.flags.CD
            stub = self._dnssec_stub
        try:
            return self._resolve(stub, qname, kind, label).response
        except dns.resolver.NXDOMAIN as exc:
            response = exc.kwargs.get("responses", {}).get(qname)
            if not isinstance(response, dns.message.Message):
                raise DNSLookupError(f"{label} failed: NXDOMAIN without an answer") from None
            return response

    def _resolve(
        self,
        stub: dns.resolver.Resolver,
        qname: dns.name.Name,
        kind: dns.rdatatype.RdataType,
        label: str,
    ) -> dns.resolver.Answer:
        """One question to the bootstrap resolver; failures become :class:`DNSLookupError`."""
        try:
            return stub.resolve(qname, kind, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            raise
        except dns.resolver.NoNameservers as exc:
            raise DNSLookupError(f"{label} failed: {_no_nameservers_reason(exc)}") from None
        except dns.exception.Timeout:
            raise DNSLookupError(
                f"{label} failed: no answer within {stub.lifetime:g} s from {self._stub_desc()}"
            ) from None
        except dns.exception.DNSException as exc:
            raise DNSLookupError(f"{label} failed: {exc}") from None

    def addresses(self, host: str) -> list[str]:
        """A and AAAA addresses of ``host`` (IPv4 first); ``[]`` if it has none."""
        found: list[str] = []
        for kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
            found.extend(str(getattr(r, "address", r)) for r in self.query(host, kind))
        return found

    def cname_target(self, name: str) -> str | None:
        """The target of the CNAME at exactly ``name`` (normalized), or ``None`` if there is none.

        Only the first link: `core.zones.cname_chain` follows a chain.
        """
        qname = _to_dns_name(name)
        for rdata in self.query(normalize_name(qname), dns.rdatatype.CNAME):
            target = getattr(rdata, "target", None)
            if isinstance(target, dns.name.Name):
                return normalize_name(target)
        return None

    def authoritative_servers(self, zone: str) -> list[NameServer]:
        """Every address of every name server listed in ``zone``'s NS records.

        Raises :class:`DNSLookupError` naming the zone when the NS lookup fails or finds nothing,
        or when no name server has an address this host can reach.
        """
        apex = normalize_name(zone)
        try:
            ns_records = self.query(apex, dns.rdatatype.NS)
        except DNSLookupError as exc:
            raise DNSLookupError(f"Cannot find the name servers of zone {apex}: {exc}") from None
        hosts = sorted({normalize_name(getattr(r, "target", "")) for r in ns_records})
        if not hosts:
            raise DNSLookupError(
                f"Cannot find the name servers of zone {apex}: it has no NS records "
                f"(is {apex} the zone's apex, and is the domain delegated?)"
            )
        servers: list[NameServer] = []
        problems: list[str] = []
        for host in hosts:
            try:
                addresses = self.addresses(host)
            except DNSLookupError as exc:
                problems.append(f"{host}: {exc}")
                continue
            if not addresses:
                problems.append(f"{host} has no A or AAAA record")
            for address in addresses:
                if self.skip_unroutable and not _routable(address, self.port):
                    logger.info("Skipping %s (%s): this host has no route to it", host, address)
                    continue
                servers.append(NameServer(host, address, self.port))
        for problem in problems:
            logger.warning("Name server of zone %s left out: %s", apex, problem)
        if not servers:
            detail = "; ".join(problems) or "no address of them is reachable from this host"
            raise DNSLookupError(
                f"No usable name server for zone {apex} (NS: {', '.join(hosts)}): {detail}"
            )
        logger.debug("Name servers of %s: %s", apex, ", ".join(map(str, servers)))
        return servers

    # -- direct, non-recursive questions to one server -----------------------------------------

    def query_txt(self, server: NameServer, name: str) -> TxtAnswer:
        """Ask ``server`` (and only it, RD=0) for the TXT records at ``name``.

        UDP first; a truncated answer is asked again over TCP. Never raises for DNS or network
        trouble: the :class:`TxtAnswer` carries the reason instead, so one bad server does not
        hide what the others say.
        """
        qname = _to_dns_name(name)
        text = normalize_name(qname)
        query = dns.message.make_query(qname, dns.rdatatype.TXT, use_edns=0, payload=_EDNS_PAYLOAD)
        query.flags &= ~dns.flags.RD
        tcp = False
        try:
            response = dns.query.udp(query, server.address, timeout=self.timeout, port=server.port)
            if response.flags & dns.flags.TC:
                tcp = True
                response = dns.query.tcp(
                    query, server.address, timeout=self.timeout, port=server.port
                )
        except dns.exception.Timeout:
            answer = TxtAnswer(server, text, error=f"timeout after {self.timeout:g} s", tcp=tcp)
        except OSError as exc:
            answer = TxtAnswer(server, text, error=f"network error: {_os_reason(exc)}", tcp=tcp)
        except dns.exception.DNSException as exc:
            answer = TxtAnswer(server, text, error=f"malformed answer: {exc}", tcp=tcp)
        else:
            answer = _txt_answer(server, qname, text, response, tcp=tcp)
        logger.debug(
            "TXT %s @ %s%s: %s", text, server, " (TCP)" if answer.tcp else "", answer.describe()
        )
        return answer

    # -- internals -----------------------------------------------------------------------------

    def _stub_desc(self) -> str:
        if self.bootstrap is None:
            return "the system's resolvers"
        return ", ".join(map(str, self.bootstrap))


def _make_stub_resolver(
    bootstrap: Sequence[NameServer] | None, timeout: float
) -> dns.resolver.Resolver:
    if bootstrap is None:
        try:
            stub = dns.resolver.Resolver(configure=True)
        except dns.resolver.NoResolverConfiguration as exc:
            raise ConfigurationError(
                f"This system has no DNS resolver configured ({exc}); fix /etc/resolv.conf"
            ) from None
    else:
        if not bootstrap:
            raise ValueError("bootstrap must list at least one server (or be None)")
        stub = dns.resolver.Resolver(configure=False)
        if Do53Nameserver is not None:
            stub.nameservers = [Do53Nameserver(s.address, s.port) for s in bootstrap]
        else:  # pragma: no cover - dnspython < 2.4 knows one port per address
            stub.nameserver_ports = {s.address: s.port for s in bootstrap}
            stub.nameservers = [s.address for s in bootstrap]
    stub.timeout = timeout
    stub.lifetime = timeout * 2
    stub.cache = None  # every lookup asks: records change while we watch them
    return stub


def _txt_answer(
    server: NameServer,
    qname: dns.name.Name,
    text: str,
    response: dns.message.Message,
    *,
    tcp: bool,
) -> TxtAnswer:
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return TxtAnswer(server, text, error=dns.rcode.to_text(rcode), tcp=tcp)
    if not response.flags & dns.flags.AA:
        # With RD=0 a server that is not authoritative gives a referral, a cached answer or a
        # cached NXDOMAIN; none of them proves what the zone serves.
        return TxtAnswer(
            server, text, error=f"not authoritative for {text} (AA bit not set)", tcp=tcp, lame=True
        )
    if rcode == dns.rcode.NXDOMAIN:
        return TxtAnswer(server, text, nxdomain=True, tcp=tcp)
    values: set[str] = set()
    owner = qname
    for _ in range(MAX_CNAME_CHAIN + 1):
        cname = _find(response, owner, dns.rdatatype.CNAME)
        if cname is None:
            break
        owner = getattr(cname[0], "target", owner)
    txt = _find(response, owner, dns.rdatatype.TXT)
    if txt is not None:
        values.update(txt_value(rdata) for rdata in txt)
    return TxtAnswer(server, text, values=frozenset(values), tcp=tcp)


def _find(
    response: dns.message.Message, owner: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    for rrset in response.answer:
        if rrset.name == owner and rrset.rdtype == rdtype and rrset.rdclass == dns.rdataclass.IN:
            return rrset
    return None


def _to_dns_name(name: str | dns.name.Name) -> dns.name.Name:
    if isinstance(name, dns.name.Name):
        return name if name.is_absolute() else name.concatenate(dns.name.root)
    return dns.name.from_text(to_ace(name))


def _routable(address: str, port: int) -> bool:
    """Whether this host has a route to ``address`` (connecting a UDP socket sends nothing)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, port))
    except OSError as exc:
        logger.debug("No route to %s: %s", address, _os_reason(exc))
        return False
    return True


def _os_reason(exc: OSError) -> str:
    if exc.errno is not None and exc.errno in errno.errorcode:
        return f"{exc.strerror or errno.errorcode[exc.errno]}"
    return str(exc) or type(exc).__name__


def _no_nameservers_reason(exc: dns.resolver.NoNameservers) -> str:
    """``every server failed (127.0.0.1:5353 SERVFAIL)`` from dnspython's error list."""
    reasons = []
    for item in exc.kwargs.get("errors", []):
        # dnspython: (server, tcp, port, error or response, ...); server is "Do53:addr@port"
        # in dnspython >= 2.4 and a bare address before.
        server, port, problem = str(item[0]), item[2], item[3]
        if server.startswith("Do53:") and "@" in server:
            address, _, port = server[len("Do53:") :].rpartition("@")
            server = f"[{address}]" if ":" in address else address
        if isinstance(problem, dns.message.Message):
            problem = dns.rcode.to_text(problem.rcode())
        reasons.append(f"{server}:{port} {problem}")
    return "every server failed (" + "; ".join(reasons) + ")" if reasons else str(exc)
