"""An authoritative DNS server on loopback, so resolver and propagation code meets real packets.

The server answers real UDP and TCP queries from a `ZoneSource`. The resolution rules (zone cut by
longest suffix, CNAME chasing, wildcards, NXDOMAIN versus NODATA, the SOA in negative answers) live
in `resolve()`, so every source (the fixed `StaticZones` here, the time-driven zones of the
Variomedia simulator) answers exactly like a real authoritative server would.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ...resolver import MAX_CNAME_CHAIN  # CNAMEs followed for one answer, as a resolver would
from .service import Service

__all__ = [
    "Behaviour",
    "DNSServer",
    "Lookup",
    "StaticZones",
    "Zone",
    "ZoneSource",
    "resolve",
]

logger = logging.getLogger(__name__)

Behaviour = Literal["normal", "servfail", "timeout", "refused", "non-authoritative"]
# "non-authoritative": the same answers without the AA bit, as a recursive resolver, a
# forwarder, or a server that does not serve the zone (a lame delegation) gives them.
"""How the server treats every query: answer it, SERVFAIL, drop it silently, or REFUSED."""


Node = Mapping[dns.rdatatype.RdataType, dns.rrset.RRset]
"""The rrsets that one owner name holds, by type."""

_Nodes = dict[dns.name.Name, dict[dns.rdatatype.RdataType, dns.rrset.RRset]]


@dataclass(frozen=True)
class Lookup:
    """What a zone source found for one question; the server turns it into a response.

    - answer: `rcode` NOERROR and `answer` holding the rrsets (a CNAME chain comes first, then
      the target's rrset). A chain that leaves the source's zones ends with the last CNAME.
    - NXDOMAIN: `rcode` NXDOMAIN, `soa` the zone's SOA (`answer` may hold a CNAME chain that led
      there, RFC 6604).
    - NODATA: `rcode` NOERROR, no rrset of the asked type in `answer`, `soa` set.
    - not my zone: `rcode` REFUSED and `authoritative` False.

    `signatures` (RRSIGs for the answer section) and `denial` (signed proof of a negative
    answer for the authority section) are sent only to clients that set the DO bit; a
    `signed_zones.SignedZones` source fills them in.
    """

    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    answer: tuple[dns.rrset.RRset, ...] = ()
    soa: dns.rrset.RRset | None = None
    authoritative: bool = True
    signatures: tuple[dns.rrset.RRset, ...] = ()
    denial: tuple[dns.rrset.RRset, ...] = ()

    @classmethod
    def refused(cls) -> Lookup:
        """The question is outside every zone of the source."""
        return cls(rcode=dns.rcode.REFUSED, authoritative=False)


class ZoneSource(Protocol):
    """Anything that can answer a question authoritatively."""

    def lookup(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
        """Find the answer for `qname`/`rdtype`; called from the server's worker threads."""
        ...


@dataclass(frozen=True)
class Zone:
    """One zone's data: owner name → type → rrset. The apex holds the SOA (and NS).

    The mappings are read, never changed, while `resolve()` runs; writers replace rrsets
    instead of mutating them, so an rrset handed out in a `Lookup` never changes afterwards.
    """

    origin: dns.name.Name
    nodes: Mapping[dns.name.Name, Node] = field(default_factory=dict)

    @classmethod
    def from_rrsets(cls, origin: dns.name.Name, rrsets: Iterable[dns.rrset.RRset]) -> Zone:
        """Group rrsets by owner and type; rrsets of the same owner and type are merged."""
        nodes: dict[dns.name.Name, dict[dns.rdatatype.RdataType, dns.rrset.RRset]] = {}
        for rrset in rrsets:
            node = nodes.setdefault(rrset.name, {})
            known = node.get(rrset.rdtype)
            if known is None:
                node[rrset.rdtype] = rrset
            else:
                node[rrset.rdtype] = dns.rrset.from_rdata_list(
                    rrset.name, min(known.ttl, rrset.ttl), [*known, *rrset]
                )
        return cls(origin, nodes)

    @property
    def soa(self) -> dns.rrset.RRset:
        return self.nodes[self.origin][dns.rdatatype.SOA]

    def find(self, name: dns.name.Name) -> Node | None:
        """The rrsets at `name` ({} for an empty non-terminal), None if the name does not exist.

        Wildcards are synthesised per RFC 4592: `*.<closest encloser>` answers for names below
        the closest encloser that do not exist themselves.
        """
        node = self.nodes.get(name)
        if node is not None:
            return node
        if self._has_descendants(name):
            return {}
        encloser = name.parent()
        while encloser != self.origin and not (
            encloser in self.nodes or self._has_descendants(encloser)
        ):
            encloser = encloser.parent()
        wildcard = self.nodes.get(dns.name.Name((b"*", *encloser.labels)))
        if wildcard is None:
            return None
        return {
            rdtype: dns.rrset.from_rdata_list(name, rrset.ttl, list(rrset))
            for rdtype, rrset in wildcard.items()
        }

    def _has_descendants(self, name: dns.name.Name) -> bool:
        return any(owner != name and owner.is_subdomain(name) for owner in self.nodes)


def resolve(
    zones: Mapping[dns.name.Name, Zone], qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> Lookup:
    """Answer `qname`/`rdtype` from `zones` (keyed by origin) like an authoritative server."""
    zone = _zone_for(zones, qname)
    if zone is None:
        return Lookup.refused()
    chain: list[dns.rrset.RRset] = []
    seen = {qname}
    name = qname
    while True:
        node = zone.find(name)
        if node is None:
            return Lookup(dns.rcode.NXDOMAIN, tuple(chain), _negative_soa(zone.soa))
        if rdtype == dns.rdatatype.ANY and node:
            return Lookup(answer=(*chain, *node.values()))
        if rdtype in node:
            return Lookup(answer=(*chain, node[rdtype]))
        cname = node.get(dns.rdatatype.CNAME)
        if cname is None:
            return Lookup(answer=tuple(chain), soa=_negative_soa(zone.soa))
        chain.append(cname)
        target: dns.name.Name = cname[0].target
        next_zone = _zone_for(zones, target)
        if next_zone is None or target in seen or len(chain) >= MAX_CNAME_CHAIN:
            return Lookup(answer=tuple(chain))
        seen.add(target)
        name, zone = target, next_zone


def _zone_for(zones: Mapping[dns.name.Name, Zone], name: dns.name.Name) -> Zone | None:
    """The zone with the longest origin that contains `name`."""
    candidate = name
    while True:
        zone = zones.get(candidate)
        if zone is not None:
            return zone
        if candidate == dns.name.root:
            return None
        candidate = candidate.parent()


def _negative_soa(soa: dns.rrset.RRset) -> dns.rrset.RRset:
    """The SOA for a negative answer carries min(TTL, MINIMUM) as its TTL (RFC 2308)."""
    ttl = min(soa.ttl, soa[0].minimum)
    return soa if ttl == soa.ttl else dns.rrset.from_rdata_list(soa.name, ttl, list(soa))


def _as_name(name: str | dns.name.Name) -> dns.name.Name:
    """Names given as text are always absolute, with or without the trailing dot."""
    return name if isinstance(name, dns.name.Name) else dns.name.from_text(name)


class StaticZones:
    """A thread-safe `ZoneSource` whose data tests set directly.

    Rdata texts use zone-file syntax with absolute names (the trailing dot is optional), e.g.
    `add("example.test", "MX", "10 mail.example.test")`, `add(n, "TXT", '"v=spf1 -all"')`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zones: dict[dns.name.Name, Zone] = {}
        self._nodes: dict[dns.name.Name, _Nodes] = {}  # the same dicts the zones read

    def add_zone(
        self,
        origin: str | dns.name.Name,
        ns: Sequence[str] = (),
        *,
        mname: str | None = None,
        rname: str | None = None,
        serial: int = 1,
        refresh: int = 3600,
        retry: int = 600,
        expire: int = 604800,
        minimum: int = 300,
        ttl: int = 300,
    ) -> None:
        """Create (or replace) a zone with its SOA and NS; `ns` defaults to `ns1.<origin>`."""
        apex = _as_name(origin)
        servers = [_as_name(n) for n in ns] or [dns.name.from_text("ns1", apex)]
        soa = (
            f"{mname or servers[0]} {rname or dns.name.from_text('hostmaster', apex)} "
            f"{serial} {refresh} {retry} {expire} {minimum}"
        )
        nodes: _Nodes = {
            apex: {
                dns.rdatatype.SOA: dns.rrset.from_text_list(
                    apex, ttl, "IN", "SOA", [soa], origin=dns.name.root, relativize=False
                ),
                dns.rdatatype.NS: dns.rrset.from_text_list(
                    apex,
                    ttl,
                    "IN",
                    "NS",
                    [str(s) for s in servers],
                    origin=dns.name.root,
                    relativize=False,
                ),
            }
        }
        with self._lock:
            self._nodes[apex] = nodes
            self._zones[apex] = Zone(apex, nodes)

    def add(
        self,
        name: str | dns.name.Name,
        rdtype: str | dns.rdatatype.RdataType,
        *rdata_texts: str,
        ttl: int = 300,
    ) -> None:
        """Add rdatas to the rrset at `name`; the rrset takes `ttl` (the last write wins)."""
        owner = _as_name(name)
        added = dns.rrset.from_text_list(
            owner, ttl, "IN", rdtype, rdata_texts, origin=dns.name.root, relativize=False
        )
        with self._lock:
            node = self._zone_nodes(owner).setdefault(owner, {})
            known = node.get(added.rdtype)
            rdatas = [*known, *added] if known is not None else list(added)
            node[added.rdtype] = dns.rrset.from_rdata_list(owner, ttl, rdatas)

    def remove(
        self,
        name: str | dns.name.Name,
        rdtype: str | dns.rdatatype.RdataType,
        rdata_text: str | None = None,
    ) -> None:
        """Remove one rdata (given as text) or, without `rdata_text`, the whole rrset."""
        owner = _as_name(name)
        kind = dns.rdatatype.RdataType.make(rdtype)
        if kind == dns.rdatatype.SOA:
            raise ValueError("a zone's SOA cannot be removed")
        with self._lock:
            nodes = self._zone_nodes(owner)
            node = nodes.get(owner, {})
            known = node.pop(kind, None)
            if known is not None and rdata_text is not None:
                gone = dns.rdata.from_text(
                    "IN", kind, rdata_text, origin=dns.name.root, relativize=False
                )
                rest = [rdata for rdata in known if rdata != gone]
                if rest:
                    node[kind] = dns.rrset.from_rdata_list(owner, known.ttl, rest)
            _prune(nodes, owner)

    def clear(self, name: str | dns.name.Name) -> None:
        """Remove every rrset at `name` (at a zone apex, everything but the SOA)."""
        owner = _as_name(name)
        with self._lock:
            nodes = self._zone_nodes(owner)
            node = nodes.get(owner, {})
            for kind in [k for k in node if k != dns.rdatatype.SOA]:
                del node[kind]
            _prune(nodes, owner)

    def lookup(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Lookup:
        with self._lock:
            return resolve(self._zones, qname, rdtype)

    def _zone_nodes(self, owner: dns.name.Name) -> _Nodes:
        zone = _zone_for(self._zones, owner)
        if zone is None:
            raise ValueError(f"{owner} is in no zone; call add_zone() first")
        return self._nodes[zone.origin]


def _prune(nodes: _Nodes, owner: dns.name.Name) -> None:
    """Drop an emptied node, so the name answers NXDOMAIN again instead of NODATA."""
    if owner in nodes and not nodes[owner]:
        del nodes[owner]


class DNSServer(Service):
    """A real authoritative DNS server (UDP and TCP on one port) answering from a `ZoneSource`.

    One thread waits for packets and connections; a small pool answers them, so a `delay` on
    one query does not hold up the others. `behaviour` and `delay` may be changed at any time
    and apply to the queries received afterwards.
    """

    UDP_PAYLOAD_WITHOUT_EDNS = 512
    TCP_IDLE_TIMEOUT = 10.0
    """Seconds an idle TCP connection stays open (stop() closes them at once anyway)."""
    WORKERS = 16

    def __init__(self, source: ZoneSource, host: str = "127.0.0.1", port: int = 0) -> None:
        self._source = source
        self._host = host
        self._requested_port = port
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._lock = threading.Lock()
        self._behaviour: Behaviour = "normal"
        self._delay = 0.0
        self._queries = 0
        self._stopping = threading.Event()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._connections: set[socket.socket] = set()
        self._port = 0

    # -- configuration -------------------------------------------------------------------------

    @property
    def behaviour(self) -> Behaviour:
        return self._behaviour

    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None:
        if value not in get_args(Behaviour):
            raise ValueError(f"behaviour must be one of {get_args(Behaviour)}, not {value!r}")
        self._behaviour = value

    @property
    def delay(self) -> float:
        """Seconds the server waits before each answer."""
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("delay cannot be negative")
        self._delay = seconds

    @property
    def address(self) -> str:
        """The host the server listens on, e.g. "127.0.0.1" or "::1"."""
        return self._host

    @property
    def port(self) -> int:
        """The UDP and TCP port (known after start())."""
        return self._port

    @property
    def queries(self) -> int:
        """Well-formed queries received so far, including the ones `timeout` dropped."""
        with self._lock:
            return self._queries

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Bind both sockets and start answering; the port is known when this returns."""
        if self._thread is not None:
            raise RuntimeError("DNSServer.start() may be called only once")
        self._udp, self._tcp = udp, tcp = self._bind()
        self._port = udp.getsockname()[1]
        self._wake = socket.socketpair()
        self._pool = pool = ThreadPoolExecutor(self.WORKERS, thread_name_prefix=f"dns-{self._port}")
        self._thread = threading.Thread(
            target=self._serve,
            args=(udp, tcp, self._wake[0], pool),
            name=f"dns-{self._host}:{self._port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop answering, join every thread and free the port; safe to call more than once."""
        with self._lock:
            thread, pool, wake = self._thread, self._pool, self._wake
            if thread is None or pool is None or wake is None or self._stopping.is_set():
                return
            self._stopping.set()
        with contextlib.suppress(OSError):
            wake[1].send(b"x")
        thread.join()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        pool.shutdown(wait=True)
        for sock in (self._udp, self._tcp, *wake):
            if sock is not None:
                sock.close()

    def __repr__(self) -> str:
        return f"DNSServer({self._host!r}, port={self._port}, behaviour={self._behaviour!r})"

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        """UDP and TCP sockets on the same port; with port 0, retry until one is free for both."""
        attempts = 1 if self._requested_port else 50
        for _ in range(attempts):
            udp = socket.socket(self._family, socket.SOCK_DGRAM)
            tcp = socket.socket(self._family, socket.SOCK_STREAM)
            try:
                udp.bind((self._host, self._requested_port))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self._host, udp.getsockname()[1]))
                tcp.listen(16)
            except OSError as error:
                udp.close()
                tcp.close()
                if self._requested_port or error.errno != errno.EADDRINUSE:
                    raise
                continue
            tcp.setblocking(False)
            return udp, tcp
        raise OSError(errno.EADDRINUSE, f"no port on {self._host} is free for both UDP and TCP")

    # -- serving -------------------------------------------------------------------------------

    def _serve(
        self, udp: socket.socket, tcp: socket.socket, wake: socket.socket, pool: ThreadPoolExecutor
    ) -> None:
        """Hand every datagram and connection to the pool until stop() writes to `wake`."""
        with selectors.DefaultSelector() as selector:
            selector.register(udp, selectors.EVENT_READ, "udp")
            selector.register(tcp, selectors.EVENT_READ, "tcp")
            selector.register(wake, selectors.EVENT_READ, "wake")
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.data == "udp":
                        self._receive_udp(udp, pool)
                    elif key.data == "tcp":
                        self._accept_tcp(tcp, pool)

    def _receive_udp(self, udp: socket.socket, pool: ThreadPoolExecutor) -> None:
        try:
            wire, peer = udp.recvfrom(65535)
        except OSError:
            return
        pool.submit(self._answer_udp, udp, wire, peer)

    def _accept_tcp(self, tcp: socket.socket, pool: ThreadPoolExecutor) -> None:
        try:
            conn, _ = tcp.accept()
        except OSError:
            return
        conn.setblocking(True)
        conn.settimeout(self.TCP_IDLE_TIMEOUT)
        with self._lock:
            self._connections.add(conn)
        pool.submit(self._serve_tcp, conn)

    def _answer_udp(self, udp: socket.socket, wire: bytes, peer: tuple[str, int]) -> None:
        try:
            reply = self._respond(wire, udp=True)
            if reply is not None and not self._stopping.is_set():
                udp.sendto(reply, peer)
        except Exception:  # a bad query must never take a worker down
            logger.exception("DNS server %s failed to answer a UDP query", self)

    def _serve_tcp(self, conn: socket.socket) -> None:
        """Answer length-prefixed queries on one connection until the client closes it."""
        try:
            while not self._stopping.is_set():
                header = _receive_exactly(conn, 2)
                if header is None:
                    return
                wire = _receive_exactly(conn, int.from_bytes(header, "big"))
                if wire is None:
                    return
                reply = self._respond(wire, udp=False)
                if reply is not None and not self._stopping.is_set():
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
        except OSError:
            return  # the client went away, timed out, or stop() shut the connection
        except Exception:
            logger.exception("DNS server %s failed on a TCP connection", self)
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _respond(self, wire: bytes, *, udp: bool) -> bytes | None:
        """The wire answer to one query, or None when nothing is to be sent."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # anything dnspython cannot parse is dropped, as real servers do
            logger.debug("DNS server %s ignored a malformed packet", self)
            return None
        if query.flags & dns.flags.QR:
            return None
        with self._lock:
            self._queries += 1
        behaviour, delay = self._behaviour, self._delay
        if behaviour == "timeout":
            return None
        if delay and self._stopping.wait(delay):
            return None
        response = self._build(query, behaviour)
        # to_wire() would cap itself at the client's payload size; TC is decided here instead.
        answer = response.to_wire(max_size=65535)
        if udp and len(answer) > _udp_limit(query):
            response.flags |= dns.flags.TC
            response.answer, response.authority, response.additional = [], [], []
            answer = response.to_wire()
        return answer

    def _build(self, query: dns.message.Message, behaviour: Behaviour) -> dns.message.Message:
        response = dns.message.make_response(query)  # copies id, RD and the question
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        elif behaviour == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif behaviour == "refused" or query.question[0].rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
        else:
            question = query.question[0]
            found = self._source.lookup(question.name, question.rdtype)
            response.set_rcode(found.rcode)
            if found.authoritative and behaviour != "non-authoritative":
                response.flags |= dns.flags.AA
            response.answer = list(found.answer)
            response.authority = [found.soa] if found.soa is not None else []
            if query.ednsflags & dns.flags.DO:
                response.ednsflags |= dns.flags.DO
                response.answer += found.signatures
                response.authority += found.denial
        return response


def _udp_limit(query: dns.message.Message) -> int:
    """The largest UDP answer the client accepts: its EDNS payload size, else 512 bytes."""
    if query.edns < 0:
        return DNSServer.UDP_PAYLOAD_WITHOUT_EDNS
    return max(DNSServer.UDP_PAYLOAD_WITHOUT_EDNS, query.payload)


def _receive_exactly(conn: socket.socket, size: int) -> bytes | None:
    """`size` bytes from a stream, or None if the peer closed it first."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)
