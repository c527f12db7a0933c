"""How close the plugin gets to the physical limit of a DNS-01 order, and what it costs in requests.

Run by hand (not a test): ``python benchmarks/plugin_timing.py [--job-delay J] [--ns-delay D1
--ns-delay D2] [--names N --zones Z]``. Everything runs on loopback: Pebble, the simulator,
real certbot processes. Machines are noisy: compare the figures of one run with each other.

Three certbot runs of the same order, each on a fresh simulator:

* **baseline** — no plugin: ``certbot --manual`` whose auth hook writes the record straight into
  a simulator with no job delay and no name-server delay. What is left is certbot and the CA.
* **plugin** — ``--authenticator dns-variomedia`` with job delay J and name-server delays D1 < D2.
  The physical limit is baseline + J + D2: no client can see a record before its job is done and
  the slowest server has published it.
* **plugin, lock on** — the same with every zone's update lock already on, as on every
  renewal: no PATCH.
* **fixed sleep** — certbot's stock behaviour: write every record, then sleep a fixed time.
  Measured with the manual hooks and a sleep of S seconds (certbot's default for DNS plugins is
  10 s, which is too short whenever J + D2 > 10 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from certbot_dns_variomedia.testing.demo.sandbox import Sandbox
from certbot_dns_variomedia.testing.variomedia.simulator import SimConfig, SimDomain, SimNameServer

HOOK = textwrap.dedent(
    """\
    import os, sys, time, json, urllib.request
    domain = os.environ["CERTBOT_DOMAIN"].removeprefix("*.")
    zone = ".".join(domain.split(".")[-2:])
    name = "_acme-challenge" + ("." + domain[: -len(zone) - 1] if domain != zone else "")
    body = {"data": {"type": "dns-record", "attributes": {
        "record_type": "TXT", "name": name, "domain": zone,
        "data": os.environ["CERTBOT_VALIDATION"], "ttl": 300}}}
    req = urllib.request.Request(
        os.environ["SIM_URL"] + "/dns-records", data=json.dumps(body).encode(),
        headers={"Authorization": "token " + os.environ["SIM_TOKEN"],
                 "Content-Type": "application/vnd.api+json"})
    urllib.request.urlopen(req, timeout=10).read()
    if os.environ.get("CERTBOT_REMAINING_CHALLENGES") == "0":
        time.sleep(float(os.environ.get("FIXED_SLEEP", "0")))
    """
)


def order(names: int, zones: int) -> tuple[list[str], list[SimDomain]]:
    zone_names = [f"zone{k}.test" for k in range(zones)]
    if names == 3 and zones == 2:
        return ["zone0.test", "*.zone0.test", "www.zone1.test"], [SimDomain(z) for z in zone_names]
    domains = [f"host{i}.{zone_names[i % zones]}" for i in range(names)]
    return domains, [SimDomain(z) for z in zone_names]


def run(
    root: Path,
    config: SimConfig,
    domains: list[str],
    mode: str,
    *,
    fixed_sleep: float = 0.0,
    propagation_seconds: int = 600,
) -> dict[str, float]:
    with Sandbox(root, config) as box:
        domain_args = [arg for d in domains for arg in ("-d", d)]
        if mode == "plugin":
            args = [
                "certonly",
                *box.plugin_args(propagation_seconds=propagation_seconds),
                *domain_args,
            ]
            env = box.env()
        else:
            hook = root / "hook.py"
            hook.write_text(HOOK)
            args = [
                "certonly",
                "--manual",
                "--preferred-challenges",
                "dns",
                "--manual-auth-hook",
                f"{sys.executable} {hook}",
                *domain_args,
            ]
            env = box.env()
            env.update(SIM_URL=box.sim.url, SIM_TOKEN=box.sim.token, FIXED_SLEEP=str(fixed_sleep))
        started = time.monotonic()
        result = box.run_certbot(*args, "--cert-name", "bench", timeout=3600, env=env)
        elapsed = time.monotonic() - started
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-2000:]
            raise SystemExit(f"{mode} run failed:\n{tail}")
        counters = box.sim.counters
        return {
            "seconds": elapsed,
            "requests": float(counters.total),
            "429s": float(counters.too_many_requests),
            "polls": float(
                sum(n for route, n in counters.by_route.items() if "queue-jobs" in route)
            ),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--job-delay", type=float, default=2.0, help="J, seconds (default 2)")
    parser.add_argument(
        "--ns-delay", type=float, action="append", help="D1, D2, ... seconds (default 0.5 and 3)"
    )
    parser.add_argument("--names", type=int, default=3, help="names in the certificate")
    parser.add_argument("--zones", type=int, default=2, help="zones they are spread over")
    parser.add_argument("--fixed-sleep", type=float, default=10.0, help="S, stock sleep")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind (median)")
    args = parser.parse_args()
    delays = sorted(args.ns_delay or [0.5, 3.0])
    domains, zone_domains = order(args.names, args.zones)
    servers = tuple(SimNameServer(f"ns{i + 1}.variomedia.test", d) for i, d in enumerate(delays))
    real = SimConfig(domains=zone_domains, nameservers=servers, job_delay=args.job_delay)
    # The baseline's hook writes without pacing: no rate limit there, it is not what is measured.
    instant = replace(
        real,
        nameservers=tuple(replace(s, delay=0.0) for s in servers),
        job_delay=0.0,
        rate_limit=None,
        lockout=None,
    )
    limit_extra = args.job_delay + max(delays)
    # A first run switches every zone's update lock on (one PATCH each); renewals find it on.
    locked = replace(real, domains=[replace(d, update_lock=True) for d in zone_domains])
    rows: dict[str, list[dict[str, float]]] = {
        "baseline": [],
        "plugin": [],
        "plugin, lock on": [],
        "fixed sleep": [],
    }
    with tempfile.TemporaryDirectory(prefix="vm-bench-") as tmp:
        for i in range(args.repeat):
            base = Path(tmp) / str(i)
            rows["baseline"].append(run(base / "b", instant, domains, "manual"))
            rows["plugin"].append(run(base / "p", real, domains, "plugin"))
            if args.names <= 10:
                rows["plugin, lock on"].append(run(base / "l", locked, domains, "plugin"))
                rows["fixed sleep"].append(
                    run(base / "f", real, domains, "manual", fixed_sleep=args.fixed_sleep)
                )

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[kind])

    baseline = median("baseline", "seconds")
    limit = baseline + limit_extra
    plugin = median("plugin", "seconds")
    print(
        f"order: {len(domains)} names in {args.zones} zones; J = {args.job_delay:g} s, "
        f"name-server delays {', '.join(f'{d:g}' for d in delays)} s; median of {args.repeat}"
    )
    print(f"{'run':<17}{'seconds':>9}{'requests':>10}{'429s':>6}{'job polls':>11}")
    for kind, runs in rows.items():
        if runs:
            print(
                f"{kind:<17}{median(kind, 'seconds'):>9.2f}{median(kind, 'requests'):>10.0f}"
                f"{median(kind, '429s'):>6.0f}{median(kind, 'polls'):>11.0f}"
            )
    print(f"physical limit (baseline + J + D{len(delays)}): {limit:.2f} s")
    requests = median("plugin", "requests")
    floor = max(0.0, requests - 10) * 1.0  # 10 requests per 10 s: one per second past the first 10
    if floor > limit_extra:
        print(f"API rate floor for {requests:.0f} requests at 10 per 10 s: {floor:.0f} s")
    print(f"plugin overhead above the limit: {plugin - limit:+.2f} s")
    budget = 2 * len(domains) + args.zones
    print(
        f"plugin API requests: {median('plugin', 'requests'):.0f} on a first run "
        f"(1 domain list + {args.zones} lock PATCH + {len(domains)} POST + {len(domains)} DELETE)"
        + (
            f", {median('plugin, lock on', 'requests'):.0f} with the locks already on (renewals)"
            if rows["plugin, lock on"]
            else ""
        )
        + f"; budget 2 per name + 1 per zone = {budget}, plus job polls "
        f"{median('plugin', 'polls'):.0f}"
    )
    if rows["fixed sleep"]:
        fixed = median("fixed sleep", "seconds")
        print(
            f"fixed sleep of {args.fixed_sleep:g} s: {fixed:.2f} s "
            f"({fixed / plugin:.2f}x the plugin's time"
            + (
                "; too short for this J + D, a real CA could fail)"
                if args.fixed_sleep < limit_extra
                else ")"
            )
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
