"""The bad-input rows of dns-persist-01: ``variomedia-dns`` against acme2certifier (a CA that
implements the draft; its validator asks the simulator's name servers on port 53), and against
Pebble for the CA that does not offer the challenge.

Every row: the exact message, no write request, nothing of ours left, the stranger records
untouched, the request count, and no token anywhere (the issue runs get none at all: a
standing record must not need it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from persist_stage import account_of, persist_sandbox

from certbot_dns_variomedia.issuing.keys import generate_key, key_to_pem
from certbot_dns_variomedia.testing.acme.acme2certifier import DEFAULT_ISSUER, Acme2Certifier
from certbot_dns_variomedia.testing.demo.persist_sandbox import PersistSandbox

from .harness import CONFIG, FOREIGN_VALUE, Stage, output
from .rows import BadInputRow, declare

pytestmark = pytest.mark.e2e

NOTHING = "nothing: no API write, no record, no answer to the CA"
SOMEONE_ELSE = f"{DEFAULT_ISSUER}; accounturi=https://127.0.0.1:1/acme/acct/someone-else"
ELEVEN = [f"ca{i}.variomedia.test" for i in range(11)]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PersistSandbox]:
    with persist_sandbox(tmp_path_factory.mktemp("persist-rows"), CONFIG) as started:
        for domain in ("example.test", "other.test"):
            started.sim.add_record(domain, "_acme-challenge", "TXT", FOREIGN_VALUE, ttl=300)
        yield started


@pytest.fixture
def pstage(box: PersistSandbox) -> Stage:
    """The module's sandbox, watched from here on (records seeded later are strangers too)."""
    stage = Stage(box)
    stage.secrets_files.add(box.credentials)
    return stage


def watch(stage: Stage) -> None:
    """What must not change from here on, and the requests counted from zero."""
    stage.untouched = stage.snapshot_others()
    stage.sim.counters.reset()


def variomedia_dns(
    stage: Stage, tmp_path: Path, *args: str, token: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        **(env or stage.box.env()),
        "VARIOMEDIA_DNS_ACCOUNT_DIR": str(tmp_path / "accounts"),
        "VARIOMEDIA_DNS_STATE_FILE": str(stage.state_file),
    }
    if token:
        environment.update(VARIOMEDIA_API_TOKEN=stage.sim.token, VARIOMEDIA_API_URL=stage.sim.url)
    return subprocess.run(
        [str(Path(sys.executable).with_name("variomedia-dns")), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def issue(
    stage: Stage, tmp_path: Path, ca: Acme2Certifier, key: Path, *names: str
) -> subprocess.CompletedProcess[str]:
    """``issue --challenge dns-persist-01`` with no token: only standing records may answer."""
    return variomedia_dns(
        stage, tmp_path, "issue", "--challenge", "dns-persist-01", "--server", ca.directory_url,
        "--ca-bundle", str(ca.ca_bundle), "--account-key", str(key), "--nameservers",
        stage.box.nameservers_option, "--out", str(tmp_path / "out"),
        *[arg for name in names for arg in ("-d", name)],
    )  # fmt: skip


def account_key(tmp_path: Path) -> tuple[Path, bytes]:
    pem = key_to_pem(generate_key())
    path = tmp_path / "account-key.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    return path, pem


@declare(
    BadInputRow(
        given="A malformed dns-persist-01 challenge: no issuer domain names, or 11 of them",
        door="variomedia-dns",
        result="refused by the command",
        says=(
            "The CA's dns-persist-01 challenge for example.test is malformed: it lists no issuer "
            "domain names. Nothing was answered; tell the CA, or use --challenge dns-01.",
            "The CA's dns-persist-01 challenge for example.test is malformed: it lists 11 issuer "
            "domain names, more than the 10 a CA may send. Nothing was answered; tell the CA, "
            "or use --challenge dns-01.",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_malformed_challenge(
    box: PersistSandbox, pstage: Stage, row: BadInputRow, tmp_path: Path
) -> None:
    slowest = box.sim.dns_servers[-1].address
    none = Acme2Certifier(tmp_path / "none", dns_servers=[slowest], issuer_names=())
    eleven = Acme2Certifier(tmp_path / "eleven", dns_servers=[slowest], issuer_names=ELEVEN)
    key, pem = account_key(tmp_path)
    with none, eleven:
        # A record that would do for the CA's first name: only the challenge is wrong.
        box.sim.add_record("example.test", "_validation-persist", "TXT",
                           f"{ELEVEN[0]}; accounturi={account_of(eleven, pem)}")  # fmt: skip
        watch(pstage)
        runs = [issue(pstage, tmp_path, ca, key, "example.test") for ca in (none, eleven)]
    assert [r.returncode for r in runs] == [1, 1], [output(r) for r in runs]
    pstage.verify_bad_input(row, 1, "".join(output(r) for r in runs))


@declare(
    BadInputRow(
        given="A dns-persist-01 record of another ACME account",
        door="variomedia-dns",
        result="refused by the command",
        says=(
            "No dns-persist-01 record authorizes the account {account} at ca.variomedia.test "
            "for every name; nothing was ordered.",
            "www.example.test: the record for this CA names another account "
            "(https://127.0.0.1:1/acme/acct/someone-else); set it once: variomedia-dns persist "
            "set -d www.example.test, or give Variomedia credentials and it is set before the "
            "order",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_record_of_another_account(
    box: PersistSandbox, pstage: Stage, row: BadInputRow, tmp_path: Path
) -> None:
    box.sim.add_record("example.test", "_validation-persist.www", "TXT", SOMEONE_ELSE)
    key, pem = account_key(tmp_path)
    account = account_of(box.ca, pem)
    watch(pstage)
    done = issue(pstage, tmp_path, box.ca, key, "www.example.test")
    pstage.verify_bad_input(row, done.returncode, output(done), {"account": account})


@declare(
    BadInputRow(
        given="A dns-persist-01 record whose persistUntil has passed",
        door="variomedia-dns",
        result="refused by the command",
        says=(
            "expired.example.test: its persistUntil has passed (2023-11-14 22:13 UTC); fix it: "
            "variomedia-dns persist set -d expired.example.test --replace",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_expired_persist_until(
    box: PersistSandbox, pstage: Stage, row: BadInputRow, tmp_path: Path
) -> None:
    key, pem = account_key(tmp_path)
    box.sim.add_record("example.test", "_validation-persist.expired", "TXT",
                       f"{DEFAULT_ISSUER}; accounturi={account_of(box.ca, pem)}; "
                       "persistUntil=1700000000")  # fmt: skip
    watch(pstage)
    done = issue(pstage, tmp_path, box.ca, key, "expired.example.test")
    pstage.verify_bad_input(row, done.returncode, output(done))


@declare(
    BadInputRow(
        given="persist set for a name outside the account",
        door="variomedia-dns",
        result="refused by the command",
        says=(
            "_validation-persist.www.example.org is not in a domain of this Variomedia account; "
            "the account's domains with DNS at Variomedia: bücher.test, example.test, "
            "other.test; registered without DNS here: nodns.test. Check the name, or the token "
            "in the credentials file.",
        ),
        written=NOTHING,
        requests=(1, 1),
    )
)
def test_name_outside_the_account(
    box: PersistSandbox, pstage: Stage, row: BadInputRow, tmp_path: Path
) -> None:
    watch(pstage)
    done = variomedia_dns(
        pstage, tmp_path, "persist", "set", "-d", "www.example.org", "--server",
        box.ca.directory_url, "--ca-bundle", str(box.ca.ca_bundle), "--agree-tos",
        "--nameservers", box.nameservers_option, token=True,
    )  # fmt: skip
    pstage.verify_bad_input(row, done.returncode, output(done))


@declare(
    BadInputRow(
        given="issue --challenge dns-persist-01 at a CA that does not offer it (Pebble)",
        door="variomedia-dns",
        result="refused by the command",
        says=(
            "The CA offers no dns-persist-01 challenge for example.test (it offers: {offered}); "
            "use dns-01 (--challenge dns-01, or auto, which falls back to it).",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_ca_without_the_challenge(stage: Stage, row: BadInputRow, tmp_path: Path) -> None:
    pebble = stage.certbot_box.pebble
    assert pebble is not None
    done = variomedia_dns(
        stage, tmp_path, "issue", "--challenge", "dns-persist-01", "--server",
        pebble.directory_url, "--agree-tos", "--nameservers", stage.box.nameservers_option,
        "--out", str(tmp_path / "out"), "-d", "example.test",
    )  # fmt: skip
    # Pebble lists its challenges in an order of its own choosing.
    offered = ", ".join(sorted(("dns-01", "http-01", "tls-alpn-01"), key=output(done).find))
    stage.verify_bad_input(row, done.returncode, output(done), {"offered": offered})
