"""Property tests of the pieces that take outside data: API documents, names, DNS answers, and
the Control Panel's pages.

Hypothesis makes up the input; each test states what must hold for every one of them. The DNS
property runs against the project's real loopback DNS server and the real resolver.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from certbot_dns_variomedia.api import jsonapi
from certbot_dns_variomedia.api.models import Domain
from certbot_dns_variomedia.controlpanel.errors import WINDOW_TOO_LARGE, ControlPanelError
from certbot_dns_variomedia.controlpanel.models import Email, EmailPage
from certbot_dns_variomedia.controlpanel.search import walk_emails
from certbot_dns_variomedia.core.propagation import Plan, check
from certbot_dns_variomedia.core.zones import ZoneMap, place
from certbot_dns_variomedia.errors import ConfigurationError, ZoneError
from certbot_dns_variomedia.names import identifier_name, is_subdomain, relative_name, to_ace
from certbot_dns_variomedia.nameservers import NameServer
from certbot_dns_variomedia.resolver import MAX_CNAME_CHAIN, Resolver, normalize_name
from certbot_dns_variomedia.testing.controlpanel.simulator import make_email
from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones

from .rows import Claim, declare

# -- JSON:API documents ------------------------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_member = st.sampled_from(["data", "errors", "links", "meta", "included", "jsonapi"])
_resource = st.fixed_dictionaries(
    {"type": st.text(min_size=1, max_size=10)},
    optional={
        "id": st.text(max_size=10) | st.integers(),
        "attributes": st.dictionaries(st.text(max_size=8), _json, max_size=4),
        "links": st.dictionaries(st.text(max_size=8), st.text() | _json, max_size=3),
        "relationships": _json,
    },
)
_document = st.dictionaries(
    _member, _json | _resource | st.lists(_resource, max_size=3), max_size=4
)


@declare(
    Claim(
        "properties",
        "jsonapi.parse raises nothing but MalformedDocument, whatever the bytes (HTML pages, "
        "truncated or deeply nested JSON, other encodings)",
        promises=(4,),
    )
)
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | _document.map(lambda d: json.dumps(d).encode()))
@example(b"[" * 100_000)
@example(b'{"data": ' * 20_000)
@example(b"<html><body>502 Bad Gateway</body></html>")
@example(json.dumps({"data": {"type": "x"}})[:-3].encode())
def test_jsonapi_parse_fails_only_with_malformed_document(body: bytes) -> None:
    try:
        doc = jsonapi.parse(body)
    except jsonapi.MalformedDocument:
        return
    assert isinstance(doc.data, tuple)
    assert all(isinstance(r.type, str) for r in doc.data)


@declare(
    Claim(
        "properties",
        "Any JSON value parses or is refused as malformed; well-formed resources keep their "
        "type, id and attributes (round trip through jsonapi.document)",
        promises=(4,),
    )
)
@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=12),
    st.dictionaries(st.text(max_size=8), _json, max_size=5),
    st.none() | st.text(min_size=1, max_size=12),
    _json,
)
def test_jsonapi_round_trip(
    kind: str, attributes: dict[str, Any], resource_id: str | None, anything: Any
) -> None:
    with contextlib.suppress(jsonapi.MalformedDocument):
        jsonapi.parse(json.dumps(anything))
    resource = jsonapi.parse(jsonapi.document(kind, attributes, resource_id)).single()
    assert resource.type == kind
    assert resource.id == resource_id
    assert dict(resource.attributes) == attributes


# -- names and zones ---------------------------------------------------------------------------

_label = st.text(alphabet="abcxyzXYZ019-_äöüßÜéＡｂ", min_size=1, max_size=12)
_names = st.lists(_label, min_size=1, max_size=4).map(".".join)


@declare(
    Claim(
        "properties",
        "names.to_ace is idempotent, gives lower-case ASCII without a trailing dot, ignores the "
        "case of ASCII names and of lower-cased Unicode ones, and agrees with the resolver's "
        "normalize_name on every name it accepts (upper-casing is no identity beyond ASCII: "
        "'ß--ü' is a name, 'SS--Ü' is refused)",
        promises=(2,),
    )
)
@settings(max_examples=300, deadline=None)
@given(_names, st.booleans())
# Once drawn by chance: 'ß--ü' is valid, but its upper case 'SS--Ü' folds to 'ss--ü', whose
# hyphens in 3rd and 4th position IDNA forbids; the property upper-cased every name.
@example("ß--ü", False)
@example("SS--Ü", False)
def test_to_ace_is_canonical(name: str, trailing_dot: bool) -> None:
    text = name + ("." if trailing_dot else "")
    try:
        ace = to_ace(text)
    except ConfigurationError:
        return
    assert to_ace(ace) == ace
    if text.isascii():  # DNS compares ASCII letters without case, and only those
        assert to_ace(text.upper()) == to_ace(text.lower()) == ace
    else:
        assert to_ace(text.lower()) == ace
    assert ace.isascii()
    assert ace == ace.lower()
    assert not ace.endswith(".")
    assert all(ace.split("."))
    assert normalize_name(text) == ace


_ascii_label = st.text(alphabet="abcdefgh0123", min_size=1, max_size=6)
_zone = st.lists(_ascii_label, min_size=2, max_size=3).map(".".join)


@declare(
    Claim(
        "properties",
        "relative_name and is_subdomain split a name at its zone exactly: the parts put "
        "together give the name back, and a zone that is only a string suffix "
        "(bexample.test of example.test) is never taken for the name's zone",
        promises=(2,),
    )
)
@settings(max_examples=300, deadline=None)
@given(st.lists(_ascii_label, max_size=3), _zone, _ascii_label)
def test_relative_name_splits_at_label_boundaries(prefix: list[str], zone: str, glued: str) -> None:
    name = ".".join([*prefix, zone])
    assert is_subdomain(name, zone)
    relative = relative_name(name, zone)
    assert (f"{relative}.{zone}" if relative else zone) == name
    impostor = glued + zone  # no dot: another domain that merely ends in the same letters
    assert not is_subdomain(impostor, zone)
    with pytest.raises(ValueError, match="is not in"):
        relative_name(impostor, zone)


@st.composite
def _account_and_names(draw: st.DrawFn) -> tuple[list[Domain], list[str]]:
    zones = draw(st.lists(_zone, min_size=1, max_size=4, unique=True))
    domains = [Domain(name=z, has_presence=draw(st.booleans())) for z in zones]
    names = []
    for _ in range(draw(st.integers(1, 4))):
        base = draw(st.sampled_from(zones) | _zone)
        prefix = draw(st.lists(_ascii_label, max_size=2))
        name = ".".join([*prefix, base])
        style = draw(st.sampled_from(["plain", "wildcard", "upper", "dot"]))
        names.append(
            {"plain": name, "wildcard": "*." + name, "upper": name.upper(), "dot": name + "."}[
                style
            ]
        )
    return domains, names


@declare(
    Claim(
        "properties",
        "zones.place puts every challenge record at _acme-challenge.<name> in the longest "
        "hosted zone of the account that contains it, the same for *.name, NAME and name., "
        "or refuses with ZoneError before anything is written",
        promises=(2,),
    )
)
@settings(max_examples=300, deadline=None)
@given(_account_and_names())
def test_place_picks_the_longest_hosted_zone(account: tuple[list[Domain], list[str]]) -> None:
    domains, names = account
    zone_map = ZoneMap(domains)
    hosted = [d.name for d in domains if d.has_presence]
    try:
        placements = place(names, zone_map, lambda name: None)
    except ZoneError:
        outside = [
            n
            for n in names
            if not any(is_subdomain(f"_acme-challenge.{identifier_name(n)}", z) for z in hosted)
        ]
        assert outside, "a name inside a hosted zone was refused"
        return
    assert len(placements) == len(names)
    for name, p in zip(names, placements, strict=True):
        bare = to_ace(name.removeprefix("*."))
        assert p.identifier == bare
        assert p.fqdn == p.challenge_name == f"_acme-challenge.{bare}"
        candidates = [z for z in hosted if is_subdomain(p.fqdn, z)]
        assert p.zone == max(candidates, key=len)
        assert f"{p.record_name}.{p.zone}" == p.fqdn


@declare(
    Claim(
        "properties",
        "Any graph of _acme-challenge CNAMEs ends in a placement at the chain's end, or in a "
        "ZoneError for a loop, an over-long chain or a target outside the account: never a "
        "hang, never another exception",
        promises=(2, 4),
    )
)
@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.integers(0, 12), st.integers(0, 12), max_size=12
    ),  # node i has a CNAME to node j
    st.integers(0, 12),
)
def test_cname_chains_end_or_are_refused(links: dict[int, int], start: int) -> None:
    def node(i: int) -> str:
        return (
            "_acme-challenge.example.test" if i == 0 else f"hop{i}.{'acme' if i % 3 else 'x'}.test"
        )

    graph = {node(i): node(j) for i, j in links.items()}
    zone_map = ZoneMap([Domain("example.test", True), Domain("acme.test", True)])
    try:
        (placement,) = place(["example.test"], zone_map, graph.get)
    except ZoneError:
        chain, seen = ["_acme-challenge.example.test"], set()
        while chain[-1] in graph and chain[-1] not in seen:
            seen.add(chain[-1])
            chain.append(graph[chain[-1]])
        ends_outside = not chain[-1].endswith((".example.test", ".acme.test"))
        loops = chain[-1] in seen
        assert loops or ends_outside or len(chain) > MAX_CNAME_CHAIN, chain
        return
    end = placement.fqdn
    assert end not in graph
    assert placement.zone in ("example.test", "acme.test")
    assert is_subdomain(end, placement.zone)
    _ = start


@declare(
    Claim(
        "properties",
        "A wildcard anywhere but as the whole first label (*.*.x, a*.x, x.*.y) is refused "
        "by the plugin itself (names.identifier_name), whatever a CA would do",
        promises=(4,),
    )
)
@settings(max_examples=200, deadline=None)
@given(st.lists(_ascii_label, min_size=2, max_size=4), st.integers(0, 3), st.booleans())
def test_misplaced_wildcards_are_refused(labels: list[str], where: int, whole: bool) -> None:
    where = min(where, len(labels) - 1)
    star = "*" if whole else labels[where][:2] + "*"
    broken = [*labels[:where], star, *labels[where + 1 :]]
    name = ".".join(broken)
    if whole and where == 0:
        name = "*." + name  # a wildcard of a wildcard
    with pytest.raises(ZoneError, match=r"wildcard|not a valid"):
        identifier_name(name)


# -- TXT answers, through a real DNS server ----------------------------------------------------


@pytest.fixture(scope="module")
def txt_world() -> Iterator[tuple[StaticZones, Resolver, NameServer]]:
    zones = StaticZones()
    zones.add_zone("example.test")
    server = DNSServer(zones)
    server.start()
    try:
        ns = NameServer("ns1.example.test", server.address, server.port)
        yield zones, Resolver(bootstrap=[ns], timeout=2.0), ns
    finally:
        server.stop()


_chars = "ABCabc012-_ .=+/"
# ACME values are 43 characters; longer ones must survive being split into 255-octet strings.
_value = st.text(alphabet=_chars, min_size=1, max_size=50) | st.text(
    alphabet=_chars, min_size=250, max_size=520
)


def _presentation(value: str) -> str:
    """A TXT rdata in zone-file form, split into 255-octet strings as a server stores it."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


@declare(
    Claim(
        "properties",
        "A TXT value counts as visible iff exactly that value is served (strings of a long "
        "value joined, case and spaces significant); other values at the name are ignored",
        promises=(1, 2),
    )
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sets(_value, min_size=1, max_size=3),
    st.sets(_value, max_size=4),
    st.data(),
)
def test_txt_values_match_exactly(
    txt_world: tuple[StaticZones, Resolver, NameServer],
    expected: set[str],
    others: set[str],
    data: st.DataObject,
) -> None:
    zones, resolver, ns = txt_world
    name = "_acme-challenge.example.test"
    shown = data.draw(st.sets(st.sampled_from(sorted(expected))))  # some of ours, maybe all
    lookalikes = {v.swapcase() for v in expected if v.swapcase() != v} | {v + " " for v in expected}
    served = (shown | others | lookalikes) - (expected - shown)
    assume(served)
    zones.clear(name)
    zones.add(name, "TXT", *(_presentation(v) for v in sorted(served)))
    status = check(Plan.build([(name, v) for v in expected], {name: [ns]}), resolver)
    (result,) = status.results
    assert result.error is None
    assert result.seen == frozenset(expected & served)
    assert result.confirmed == (expected <= served)


# -- the Control Panel's pages -----------------------------------------------------------------

T0 = datetime.datetime(2024, 3, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
SPAN = 3600  # one hour, halved at 1800, 900, 2700, ... seconds


def _scripted_search(
    mails: list[Email], limit: int, *, inclusive_end: bool, counts: bool
) -> Callable[[datetime.datetime, datetime.datetime, int, int], EmailPage]:
    """The search as the API documents it: oldest first, refused (3089) at `limit` hits."""

    def fetch(
        start: datetime.datetime, end: datetime.datetime, offset: int, size: int
    ) -> EmailPage:
        inside = sorted(
            (
                m
                for m in mails
                if m.date is not None
                and start <= m.date
                and (m.date <= end if inclusive_end else m.date < end)
            ),
            key=lambda m: (m.date, m.subject),
        )
        if len(inside) >= limit:
            raise ControlPanelError("too many results", error_id=WINDOW_TOO_LARGE, status_code=400)
        return EmailPage(tuple(inside[offset : offset + size]), len(inside) if counts else None)

    return fetch


@st.composite
def _mailbox(draw: st.DrawFn) -> tuple[list[int], int]:
    """Seconds into the hour of each e-mail (crowding the split points) and a limit low
    enough that the window is refused and split more often than not."""
    hot = st.sampled_from([0, 1, 450, 899, 900, 1799, 1800, 1801, 2700, 3599, 3600])
    seconds = draw(st.lists(hot | st.integers(0, SPAN), min_size=2, max_size=60))
    return seconds, draw(st.integers(2, max(2, len(seconds))))


@declare(
    Claim(
        "properties",
        "The window-splitting e-mail search yields every e-mail of the period exactly once, "
        "whatever the dates (many in one second, on split points), the page size, the limit, "
        "and whether the API's end time is inclusive; or says to shorten --days when one "
        "second alone holds too many",
    )
)
@settings(max_examples=200, deadline=None)
@given(_mailbox(), st.integers(1, 9), st.booleans(), st.booleans())
def test_email_search_loses_and_repeats_nothing(
    mailbox: tuple[list[int], int], page_size: int, inclusive_end: bool, counts: bool
) -> None:
    seconds, limit = mailbox
    mails = [
        Email.from_api(
            make_email(
                date=T0 + datetime.timedelta(seconds=s), domain="example.test", subject=f"m{n}"
            )
        )
        for n, s in enumerate(seconds)
    ]
    end = T0 + datetime.timedelta(seconds=SPAN)
    fetch = _scripted_search(mails, limit, inclusive_end=inclusive_end, counts=counts)
    wanted = {
        m.subject
        for m in mails
        if m.date is not None and (m.date <= end if inclusive_end else m.date < end)
    }
    try:
        got = [m.subject for m in walk_emails(fetch, T0, end, page_size=page_size)]
    except ControlPanelError as e:
        message = str(e)
        got = []
    else:
        message = ""
    if message:
        assert "use a shorter --days" in message
        crowded = max(sum(1 for s in seconds if t <= s <= t + 2) for t in range(SPAN + 1))
        assert crowded >= limit, "split refused although no two seconds hold the limit"
        return
    assert len(got) == len(set(got)), "an e-mail came twice"
    assert set(got) == wanted, "an e-mail was lost"
