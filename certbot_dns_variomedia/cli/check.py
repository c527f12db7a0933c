"""``variomedia-dns check NAME [VALUE]``: what every authoritative name server answers now.

The CA asks whichever authoritative server its resolver picks, while ``dig`` without ``@``
answers from one server and from a cache. So this asks every server of the zone directly, as
the plugin's wait does, and with VALUE the exit status says whether every one of them shows it
(`core.propagation.check`, the very test the plugin waits for; ``--wait`` repeats it with
`core.propagation.wait`). A CNAME at NAME is followed first, as the CA follows it. No credentials
are needed: only DNS is asked.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..core import propagation
from ..core.propagation import Plan, PropagationStatus
from ..core.zones import cname_chain, find_zone
from ..errors import PropagationError
from ..names import to_unicode
from ..nameservers import NameServer, TxtAnswer
from ..resolver import Resolver
from .options import (
    add_json_option,
    add_nameservers_option,
    nameservers,
    seconds_value,
)
from .output import print_json, say, table


def _answer_json(answer: TxtAnswer, shows: bool | None) -> dict[str, Any]:
    return {
        "server": str(answer.server),
        "host": answer.server.host,
        "address": answer.server.address,
        "port": answer.server.port,
        "values": sorted(answer.values),
        "nxdomain": answer.nxdomain,
        "error": answer.error,
        "shows_value": shows,
    }


def _answer_text(answer: TxtAnswer) -> str:
    if answer.error is not None:
        return f"no answer: {answer.error}"
    if not answer.values:
        return "NXDOMAIN" if answer.nxdomain else "no TXT record"
    return ", ".join(f'"{v}"' for v in sorted(answer.values))


def _verdict(
    plan: Plan, resolver: Resolver, wait: float | None
) -> tuple[PropagationStatus, dict[NameServer, bool]]:
    """One propagation round, or rounds until every server shows VALUE or `wait` is over."""
    if not wait:
        status = propagation.check(plan, resolver)
    else:
        seen: list[PropagationStatus] = []  # the last round, for a wait that ends unfulfilled
        try:
            status = propagation.wait(
                plan,
                resolver,
                timeout=wait,
                interval=1.0,
                on_round=seen.append,
                timeout_option="--wait",
            )
        except PropagationError:
            status = seen[-1]
    return status, {r.server: r.confirmed for r in status.results}


def cmd_check(args: argparse.Namespace) -> int:
    given = nameservers(args)
    resolver = Resolver(bootstrap=given)
    chain = cname_chain(args.name, resolver.cname_target)
    target = chain[-1]
    zone: str | None = None
    servers: Sequence[NameServer]
    if given is not None:
        servers = given
    else:
        zone = find_zone(resolver, target)
        servers = resolver.authoritative_servers(zone)
    shows: dict[NameServer, bool] = {}
    if args.value is not None:
        plan = Plan.build([(target, args.value)], {target: servers})
        _, shows = _verdict(plan, resolver, args.wait)
    answers = [resolver.query_txt(server, target) for server in servers]
    all_answered = not any(a.failed for a in answers)
    visible = all(shows.values()) if args.value is not None else None
    if args.json:
        print_json(
            {
                "name": chain[0],
                "cname_chain": chain[1:],
                "queried_name": target,
                "zone": zone,
                "value": args.value,
                "servers": [_answer_json(a, shows.get(a.server)) for a in answers],
                "all_answered": all_answered,
                "visible_on_all": visible,
            }
        )
    else:
        _print_people(chain, zone, answers, shows, args.value)
    if args.value is not None:
        return 0 if visible else 1
    return 0 if all_answered else 1


def _print_people(
    chain: list[str],
    zone: str | None,
    answers: list[TxtAnswer],
    shows: dict[NameServer, bool],
    value: str | None,
) -> None:
    target = to_unicode(chain[-1])
    if len(chain) > 1:
        say(f"{to_unicode(chain[0])} is a CNAME to {target} (as the CA follows it).")
    where = f"the authoritative name servers of {to_unicode(zone)}" if zone else "the given servers"
    say(f"TXT {target} on {where}:")
    headers = ["SERVER", "ANSWER"] + (["SHOWS VALUE"] if value is not None else [])
    rows = []
    for answer in answers:
        row = [str(answer.server), _answer_text(answer)]
        if value is not None:
            row.append("yes" if shows.get(answer.server) else "no")
        rows.append(row)
    say(table(headers, rows))
    if value is None:
        failed = [str(a.server) for a in answers if a.failed]
        if failed:
            say(f"No usable answer from {', '.join(failed)}.")
        return
    missing = [str(a.server) for a in answers if not shows.get(a.server)]
    if missing:
        say(f'"{value}" is not visible on {len(missing)} of {len(answers)}: {", ".join(missing)}.')
    else:
        say(f'"{value}" is visible on all {len(answers)} name servers.')


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = subparsers.add_parser(
        "check",
        parents=[common],
        help="what every authoritative name server answers for a TXT name now",
        description="Ask every authoritative name server of NAME's zone (or --nameservers) "
        "directly for the TXT records at NAME. With VALUE, the exit status is 0 only if every "
        "server shows VALUE.",
    )
    parser.add_argument("name", metavar="NAME", help="e.g. _acme-challenge.example.de")
    parser.add_argument("value", metavar="VALUE", nargs="?", help="the TXT value to look for")
    parser.add_argument(
        "--wait",
        type=seconds_value,
        metavar="SECONDS",
        help="with VALUE: keep asking until every server shows it, for at most SECONDS",
    )
    add_nameservers_option(parser)
    add_json_option(parser)
    parser.set_defaults(func=cmd_check)
