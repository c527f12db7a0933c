"""The two ways certbot reaches Variomedia side by side: the plugin and the manual hooks.

Run by hand (not a test): ``python benchmarks/front_doors.py [--repeat N]``. The order is issue
13's: three names in two zones (``example.test``, ``*.example.test``, ``www.second.test``) of an
account with three domains; the API allows 10 requests per 10 s and pages its lists 2 at a time;
queue jobs take J = 2 s; two name servers publish 1 s and 3 s after the job. Everything runs on
loopback: Pebble, the simulator, real certbot processes. Machines are noisy: compare the figures
of one run with each other, never with another run's.

For every front door, one sandbox: ``certbot certonly`` (the issue: the update locks are off and
get switched on), a pause until the API's rate window is empty and the removals have left DNS,
then ``certbot renew --force-renewal`` (the renewal: the locks are on). The baseline is the same
pair of certbot runs with a hook that writes straight into a simulator without job or name-server
delay, pacing or pagination: what is left is certbot and the CA. The physical limit of a run is
its baseline + J + the slowest server's delay; "overhead" is what a front door takes beyond it.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from plugin_timing import HOOK

import certbot_dns_variomedia
from certbot_dns_variomedia.testing.demo.sandbox import Sandbox
from certbot_dns_variomedia.testing.variomedia.simulator import SimConfig, SimDomain, SimNameServer

SCRIPT = str(Path(sys.executable).parent / "variomedia-dns")
DOMAINS = ["example.test", "*.example.test", "www.second.test"]
# An account holds more domains than one order uses: the list takes two pages of 2.
ACCOUNT = (SimDomain("example.test"), SimDomain("second.test"), SimDomain("third.test"))
JOB_DELAY = 2.0
NS_DELAYS = (1.0, 3.0)
REAL = SimConfig(
    domains=ACCOUNT,
    nameservers=tuple(
        SimNameServer(f"ns{i + 1}.variomedia.test", d) for i, d in enumerate(NS_DELAYS)
    ),
    job_delay=JOB_DELAY,
    page_size=2,
    rate_limit=(10, 10.0),
)
INSTANT = replace(
    REAL,
    nameservers=tuple(replace(s, delay=0.0) for s in REAL.nameservers),
    job_delay=0.0,
    page_size=25,
    rate_limit=None,
    lockout=None,
)
PAUSE = 11.0  # the API's 10-second window, emptied, and the removals gone from every server


@dataclass(frozen=True)
class Figures:
    seconds: float
    requests: int


def certonly_args(box: Sandbox, door: str) -> tuple[list[str], dict[str, str]]:
    env = box.env()
    if door == "plugin":
        return box.plugin_args(propagation_seconds=600), env
    if door == "hooks":
        state = box.root / "hooks-state.json"

        def hook(kind: str) -> str:
            options = ["--credentials", str(box.credentials), "--state-file", str(state)]
            options += ["--nameservers", box.nameservers_option, "--propagation-seconds", "600"]
            return shlex.join([SCRIPT, f"certbot-{kind}", *options])

        auth, cleanup = hook("auth"), hook("cleanup")
    else:  # the baseline: the records written straight into a simulator without delays
        script = box.root / "instant-hook.py"
        script.write_text(HOOK)
        auth, cleanup = f"{sys.executable} {script}", "true"
        env.update(SIM_URL=box.sim.url, SIM_TOKEN=box.sim.token)
    manual = ["--manual", "--preferred-challenges", "dns"]
    return [*manual, "--manual-auth-hook", auth, "--manual-cleanup-hook", cleanup], env


def timed(box: Sandbox, env: dict[str, str], *args: str) -> Figures:
    box.sim.counters.reset()
    started = time.monotonic()
    result = box.run_certbot(*args, timeout=600, env=env)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"certbot {args[0]} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return Figures(seconds, box.sim.counters.total)


def issue_and_renew(root: Path, door: str) -> tuple[Figures, Figures]:
    with Sandbox(root, INSTANT if door == "baseline" else REAL) as box:
        args, env = certonly_args(box, door)
        names = [arg for d in DOMAINS for arg in ("-d", d)]
        issued = timed(box, env, "certonly", *args, "--cert-name", "bench", *names)
        time.sleep(PAUSE)
        renewed = timed(box, env, "renew", "--force-renewal", "--no-random-sleep-on-renew")
        return issued, renewed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind (median)")
    args = parser.parse_args()
    # An installed package carries its bytecode (pip compiles it); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module again in every hook process.
    compileall.compile_dir(Path(certbot_dns_variomedia.__file__).parent, quiet=1)
    doors = ("baseline", "plugin", "hooks")
    runs: dict[str, list[tuple[Figures, Figures]]] = {door: [] for door in doors}
    with tempfile.TemporaryDirectory(prefix="vm-bench-") as tmp:
        for i in range(args.repeat):
            for door in doors:  # interleaved: a slow minute of the machine hits every door
                runs[door].append(issue_and_renew(Path(tmp) / f"{door}-{i}", door))

    def median(door: str, which: int, field: str) -> float:
        values = [r[which].seconds if field == "seconds" else r[which].requests for r in runs[door]]
        return float(statistics.median(values))

    extra = JOB_DELAY + max(NS_DELAYS)
    print(
        f"order: {', '.join(DOMAINS)} ({len(ACCOUNT)} domains in the account, lists in pages "
        f"of {REAL.page_size}); {REAL.rate_limit[0] if REAL.rate_limit else '-'} requests per "
        f"10 s; J = {JOB_DELAY:g} s; name servers {', '.join(f'{d:g}' for d in NS_DELAYS)} s "
        f"behind; median of {args.repeat}"
    )
    issue_limit = median("baseline", 0, "seconds") + extra
    renewal_limit = median("baseline", 1, "seconds") + extra
    print(
        f"physical limit = baseline + J + slowest server = issue {issue_limit:.2f} s, "
        f"renewal {renewal_limit:.2f} s"
    )
    print()
    print(
        "| front door | issue: requests | issue: overhead | renewal: requests | renewal: overhead |"
    )
    print("| --- | --- | --- | --- | --- |")
    for door, label in (("plugin", "plugin"), ("hooks", "manual hooks")):
        cells = []
        for which in (0, 1):
            limit = median("baseline", which, "seconds") + extra
            overhead = median(door, which, "seconds") - limit
            cells += [f"{median(door, which, 'requests'):.0f}", f"{overhead:+.2f} s"]
        print(f"| {label} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
