"""What a standing dns-persist-01 record saves on every renewal, against dns-01 through the API.

Run by hand (not a test), as root (the CA asks port 53): ``python benchmarks/persist_timing.py
[--job-delay J] [--ns-delay D1 --ns-delay D2] [--repeat N]``. Everything runs on loopback:
acme2certifier (a CA that implements the draft, with dns-01 too), the Variomedia simulator
with its name servers on port 53, and `obtain_certificate` in this process. Machines are
noisy: compare the figures of one run with each other.

The same renewal (apex + wildcard + one name in a second zone), the same ACME account, both
ways, alternating:

* **dns-01** — records written through the API, waited for on every name server (job delay J,
  name-server delays D1 < D2), answered, removed; the zones' update locks already on, as on
  every renewal.
* **dns-persist-01** — the records set once beforehand (not counted); the renewal reads them
  from DNS, answers ``{}`` and is done: no API request, no credentials, no propagation wait.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from certbot_dns_variomedia.core.persist import build
from certbot_dns_variomedia.core.persist_write import set_records
from certbot_dns_variomedia.core.run import ChallengeRun
from certbot_dns_variomedia.core.settings import Settings
from certbot_dns_variomedia.core.state import StateFile
from certbot_dns_variomedia.credentials import VariomediaCredentials, load_variomedia_credentials
from certbot_dns_variomedia.issue import obtain_certificate
from certbot_dns_variomedia.issuing.keys import generate_key, key_to_pem
from certbot_dns_variomedia.issuing.session import account_url
from certbot_dns_variomedia.resolver import parse_nameservers
from certbot_dns_variomedia.testing.acme.acme2certifier import DEFAULT_ISSUER
from certbot_dns_variomedia.testing.demo.persist_sandbox import PersistSandbox, Port53Unavailable
from certbot_dns_variomedia.testing.variomedia.simulator import SimConfig, SimDomain, SimNameServer

NAMES = ["example.test", "*.example.test", "www.other.test"]
WAIT_STARTS = "Creating "  # the first line of dns-01's DNS part (`core.run.ChallengeRun.present`)
WAIT_ENDS = "Asking the CA to validate"


def renew(
    box: PersistSandbox,
    root: Path,
    *,
    account_key: bytes,
    challenge: str,
    credentials: VariomediaCredentials | None,
    settings: Settings,
) -> dict[str, float]:
    """One order; its wall time, its API requests, and the seconds spent on DNS before the
    CA was asked (records written and waited for)."""
    said: list[tuple[float, str]] = []
    before = box.sim.counters.total
    started = time.monotonic()
    obtain_certificate(
        NAMES,
        credentials=credentials,
        challenge=challenge,  # type: ignore[arg-type]
        directory_url=box.ca.directory_url,
        account_key=account_key,
        ca_bundle=str(box.ca.ca_bundle),
        state_file=StateFile(root / "state.json"),
        settings=settings,
        notify=lambda line: said.append((time.monotonic(), line)),
    )
    elapsed = time.monotonic() - started
    writes = [t for t, line in said if line.startswith(WAIT_STARTS)]
    asked = [t for t, line in said if line.startswith(WAIT_ENDS)]
    return {
        "seconds": elapsed,
        "requests": float(box.sim.counters.total - before),
        "dns": asked[0] - writes[0] if writes and asked else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--job-delay", type=float, default=2.0, help="J, seconds (default 2)")
    parser.add_argument(
        "--ns-delay", type=float, action="append", help="D1, D2 seconds (default 0.5 and 3)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="renewals of each kind (median)")
    args = parser.parse_args()
    delays = sorted(args.ns_delay or [0.5, 3.0])
    config = SimConfig(
        # The locks are on already, as on every renewal: no PATCH in either row.
        domains=(
            SimDomain("example.test", update_lock=True),
            SimDomain("other.test", update_lock=True),
        ),
        nameservers=tuple(
            SimNameServer(f"ns{i + 1}.variomedia.test", d) for i, d in enumerate(delays)
        ),
        job_delay=args.job_delay,
    )
    rows: dict[str, list[dict[str, float]]] = {"dns-01": [], "dns-persist-01": []}
    with tempfile.TemporaryDirectory(prefix="vm-persist-bench-") as tmp:
        root = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(root / "cache")  # a pacing ledger of its own
        try:
            box = PersistSandbox(root / "box", config).start()
        except Port53Unavailable as e:
            raise SystemExit(f"cannot run: {e}") from None
        try:
            credentials = load_variomedia_credentials(box.credentials)
            settings = Settings(
                nameservers=tuple(parse_nameservers(box.nameservers_option)),
                propagation_timeout=120,
            )
            key = key_to_pem(generate_key())
            account = account_url(
                box.ca.directory_url, key, ca_bundle=str(box.ca.ca_bundle), agree_tos=True
            )
            # Set once, before any renewal (not measured): what `persist set` does.
            wanted = {
                "example.test": build(DEFAULT_ISSUER, account, wildcard=True),
                "www.other.test": build(DEFAULT_ISSUER, account),
            }
            with ChallengeRun.open(credentials, StateFile(root / "state.json"), settings) as run:
                set_records(run, wanted)
            for _ in range(args.repeat):
                rows["dns-01"].append(
                    renew(
                        box,
                        root,
                        account_key=key,
                        challenge="dns-01",
                        credentials=credentials,
                        settings=settings,
                    )
                )
                rows["dns-persist-01"].append(
                    renew(
                        box,
                        root,
                        account_key=key,
                        challenge="dns-persist-01",
                        credentials=None,
                        settings=settings,
                    )
                )
        finally:
            box.stop()

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[kind])

    print(
        f"renewal of {', '.join(NAMES)}; J = {args.job_delay:g} s, name-server delays "
        f"{', '.join(f'{d:g}' for d in delays)} s; update locks on; median of {args.repeat}"
    )
    print(f"{'challenge':<16}{'seconds':>9}{'API requests':>14}{'DNS write+wait s':>18}")
    for kind in rows:
        print(
            f"{kind:<16}{median(kind, 'seconds'):>9.2f}{median(kind, 'requests'):>14.0f}"
            f"{median(kind, 'dns'):>18.2f}"
        )
    saved = median("dns-01", "seconds") - median("dns-persist-01", "seconds")
    print(f"dns-persist-01 saves {saved:.2f} s and {median('dns-01', 'requests'):.0f} requests")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
