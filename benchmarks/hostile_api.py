"""What a run costs when the API is hostile: wall time and peak memory of a certbot process.

Run by hand (not a test): ``python benchmarks/hostile_api.py [--case NAME ...]``. Everything
runs on loopback: Pebble, the simulator, a real certbot process with the plugin, at the
production bounds (`api.exchange.Bounds`). Each case is a fresh sandbox in which every answer
to ``GET /domains`` (the run's first request) is hostile:

* **drip** — a document sent one byte every 2 s: no read ever times out;
* **huge** — 200 MB without Content-Length;
* **endless** — list pages that always link to a new next page;
* **normal** — no fault: the baseline of the same order.

The peak memory is certbot's own (``ru_maxrss`` of the child, from ``wait4``): what the run
needs, without this script or the simulator. The promise: within two minutes, well under
300 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from certbot_dns_variomedia.testing.demo.sandbox import Sandbox
from certbot_dns_variomedia.testing.variomedia.simulator import (
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

CONFIG = SimConfig(
    domains=(SimDomain("example.test"),),
    nameservers=(SimNameServer("ns1.variomedia.test"), SimNameServer("ns2.variomedia.test")),
    job_delay=0.2,
)
CASES: dict[str, Callable[[VariomediaSimulator], None]] = {
    "drip": lambda sim: sim.faults.drip(2.0, count=1000, path="/domains"),
    "huge": lambda sim: sim.faults.huge(200, count=1000, path="/domains"),
    "endless": lambda sim: sim.faults.endless_pages(path="/domains"),
    "normal": lambda sim: None,
}


def measure(root: Path, case: str) -> tuple[float, float, int, str]:
    """Seconds, peak MB of certbot, API requests, and certbot's last line."""
    with Sandbox(root, CONFIG) as box:
        CASES[case](box.sim)
        command = box.certbot_command(
            "certonly", *box.plugin_args(), "-d", "example.test", "--cert-name", "bench"
        )
        with tempfile.TemporaryFile("w+") as out:
            started = time.monotonic()
            process = subprocess.Popen(command, env=box.env(), stdout=out, stderr=out, text=True)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.monotonic() - started
            out.seek(0)
            lines = [line for line in out.read().splitlines() if line.strip()]
        words = [line for line in lines if set(line) - {"-", " "}]  # no rulers
        said = next((line for line in reversed(words) if not line.startswith("Ask for help")), "")
        return seconds, usage.ru_maxrss / 1024, box.sim.counters.total, said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="default: all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'case':8} {'seconds':>8} {'peak MB':>8} {'requests':>8}  certbot's last word")
        for case in args.case or list(CASES):
            seconds, peak, requests, said = measure(Path(tmp) / case, case)
            print(f"{case:8} {seconds:8.1f} {peak:8.1f} {requests:8d}  {said[:110]}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
