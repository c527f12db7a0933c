"""`obtain_certificate` and ``variomedia-dns issue`` for real: Pebble and the simulator.

Pebble validates against the slowest simulated name server, so a certificate is only issued if
the order waited until every server had every record.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from acme.crypto_util import make_csr
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certbot_dns_variomedia.core.settings import Settings
from certbot_dns_variomedia.core.state import StateFile
from certbot_dns_variomedia.credentials import load_variomedia_credentials
from certbot_dns_variomedia.issue import obtain_certificate
from certbot_dns_variomedia.issuing.keys import generate_key, key_to_pem
from certbot_dns_variomedia.resolver import Resolver, parse_nameservers
from certbot_dns_variomedia.testing.demo.sandbox import DEMO_CONFIG, Sandbox
from certbot_dns_variomedia.testing.variomedia.simulator import SimNameServer, VariomediaSimulator

from .conftest import SCRIPT, run_script

pytestmark = pytest.mark.e2e

CONFIG = replace(
    DEMO_CONFIG,
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.5),
    ),
    job_delay=0.2,
)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "box", CONFIG) as box:
        yield box


def env_of(box: Sandbox, tmp_path: Path) -> dict[str, str]:
    """The sandbox's environment (it trusts Pebble's HTTPS), isolated from real files."""
    env = box.env()
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        VARIOMEDIA_DNS_STATE_FILE=str(tmp_path / "state.json"),
        VARIOMEDIA_DNS_ACCOUNT_DIR=str(tmp_path / "accounts"),
    )
    return env


def issue(
    box: Sandbox, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert box.pebble is not None
    return run_script(
        "issue",
        "--server",
        box.pebble.directory_url,
        "--credentials",
        str(box.credentials),
        "--nameservers",
        box.nameservers_option,
        *args,
        env=env or env_of(box, tmp_path),
        timeout=120,
    )


def live_challenges(sim: VariomediaSimulator) -> list[str]:
    return [r.id for r in sim.records() if r.name.startswith("_acme-challenge") and not r.deleted]


def other_records(sim: VariomediaSimulator) -> list[tuple[str, str, bool]]:
    return sorted(
        (r.id, r.data, r.deleted) for r in sim.records() if not r.name.startswith("_acme-challenge")
    )


def queries(sim: VariomediaSimulator) -> int:
    return sum(server.queries for server in sim.dns_servers)


def public_key(data: bytes) -> bytes:
    return (
        serialization.load_pem_private_key(data, None)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def test_obtain_certificate_issues_apex_wildcard_and_a_second_zone(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sandbox.pebble is not None
    monkeypatch.setenv("VARIOMEDIA_DNS_CACHE_DIR", str(sandbox.cache_dir))  # the pacing ledger
    untouched = other_records(sandbox.sim)
    servers = tuple(parse_nameservers(sandbox.nameservers_option))
    said: list[str] = []
    cert = obtain_certificate(
        ["example.test", "*.example.test", "www.other.test"],
        credentials=load_variomedia_credentials(sandbox.credentials),
        directory_url=sandbox.pebble.directory_url,
        agree_tos=True,
        key_type="rsa",
        ca_bundle=str(sandbox.pebble.ca_bundle),
        state_file=StateFile(tmp_path / "state.json"),
        settings=Settings(nameservers=servers, propagation_timeout=30),
        resolver=Resolver(bootstrap=servers),
        notify=said.append,
    )
    assert cert.names == ("example.test", "*.example.test", "www.other.test")
    assert cert.private_key_pem is not None
    key = serialization.load_pem_private_key(cert.private_key_pem, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    leaf = x509.load_pem_x509_certificate(cert.cert_pem)
    chain = x509.load_pem_x509_certificates(cert.chain_pem)
    assert cert.fullchain_pem == cert.cert_pem + cert.chain_pem
    leaf.verify_directly_issued_by(chain[0])
    assert public_key(cert.private_key_pem) == leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # One batch through the core: all three records at once, one wait, all removed.
    assert "Creating 3 TXT record(s) in example.test, other.test" in said
    assert "Asking the CA to validate 3 challenge(s)" in said
    assert live_challenges(sandbox.sim) == []
    assert other_records(sandbox.sim) == untouched


def test_issue_writes_the_files_and_the_next_run_reuses_the_account(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    account_key = tmp_path / "account" / "key.pem"
    first = issue(
        sandbox, tmp_path, "-d", "example.test,*.example.test", "--out", str(out), "--agree-tos",
        "--account-key", str(account_key), "--json",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["names"] == ["example.test", "*.example.test"]
    assert sorted(data["files"]) == ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]
    # The four names, the set they show and the sets; no temporaries.
    assert sorted(p.name for p in out.iterdir()) == sorted([*data["files"], ".sets", "current"])
    assert stat.S_IMODE((out / "privkey.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(account_key.stat().st_mode) == 0o600
    fullchain = (out / "fullchain.pem").read_bytes()
    assert fullchain == (out / "cert.pem").read_bytes() + (out / "chain.pem").read_bytes()
    leaf = x509.load_pem_x509_certificate(fullchain)
    assert public_key((out / "privkey.pem").read_bytes()) == leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert "Ordering a certificate for example.test, *.example.test" in first.stderr
    assert live_challenges(sandbox.sim) == []

    # The account exists now: no agreement needed; a CSR keeps its own key.
    csr_key = key_to_pem(generate_key())
    csr = tmp_path / "request.csr"
    csr.write_bytes(make_csr(csr_key, ["www.example.test"]))
    csr_out = tmp_path / "csr-out"
    second = issue(
        sandbox, tmp_path, "--csr", str(csr), "--out", str(csr_out), "--account-key",
        str(account_key),
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "Certificate for www.example.test" in second.stdout
    assert sorted(p.name for p in csr_out.iterdir()) == [
        ".sets", "cert.pem", "chain.pem", "current", "fullchain.pem",
    ]  # fmt: skip
    leaf = x509.load_pem_x509_certificate((csr_out / "cert.pem").read_bytes())
    assert public_key(csr_key) == leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert live_challenges(sandbox.sim) == []


@pytest.fixture
def stale_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """ns2 never takes a change made through the API."""
    nameservers = (
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.0, publish=False),
    )
    with Sandbox(tmp_path / "box", replace(CONFIG, nameservers=nameservers)) as box:
        yield box


def test_issue_fails_clearly_removes_the_records_and_writes_nothing(
    stale_sandbox: Sandbox, tmp_path: Path
) -> None:
    box = stale_sandbox
    out = tmp_path / "out"
    out.mkdir()
    (out / "fullchain.pem").write_bytes(b"the certificate in use\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = issue(
        box, tmp_path, "-d", "example.test", "-d", "*.example.test", "--out", str(out),
        "--agree-tos", "--account-key", str(tmp_path / "key.pem"), "--propagation-seconds", "1",
    )  # fmt: skip
    assert result.returncode == 1
    error = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error) == 1
    assert "not visible on every authoritative name server after 1 s" in error[0]
    assert box.sim.nameservers[1] in result.stderr  # the server that never publishes
    assert "raise --propagation-seconds (now 1)" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert live_challenges(box.sim) == []
    assert len([r for r in box.sim.records() if r.source == "api"]) == 2


def test_a_new_account_needs_the_terms_agreed_and_nothing_is_written(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = issue(
        sandbox, tmp_path, "-d", "example.test", "--out", str(out), "--account-key",
        str(tmp_path / "new-key.pem"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "terms of service" in result.stderr
    assert "--agree-tos" in result.stderr
    assert not out.exists()
    assert sandbox.sim.counters.total == 0


def test_an_untrusted_ca_certificate_names_the_fix(sandbox: Sandbox, tmp_path: Path) -> None:
    env = env_of(sandbox, tmp_path)
    del env["REQUESTS_CA_BUNDLE"]
    result = issue(
        sandbox, tmp_path, "-d", "example.test", "--out", str(tmp_path / "out"), "--agree-tos",
        env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert "--ca-bundle FILE" in result.stderr
    assert sandbox.pebble is not None
    # The explicit option is enough on its own.
    trusted = issue(
        sandbox, tmp_path, "-d", "example.test", "--out", str(tmp_path / "out"), "--agree-tos",
        "--ca-bundle", str(sandbox.pebble.ca_bundle), env=env,
    )  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    assert os.path.exists(tmp_path / "out" / "privkey.pem")
    # Without --account-key: one key per CA, in the directory the environment names.
    assert list((tmp_path / "accounts").glob("*/account-key.pem"))


def test_sigterm_during_the_wait_removes_the_records_and_writes_nothing(
    stale_sandbox: Sandbox, tmp_path: Path
) -> None:
    box = stale_sandbox
    assert box.pebble is not None
    out = tmp_path / "out"
    argv = [
        SCRIPT, "issue", "--server", box.pebble.directory_url, "--credentials",
        str(box.credentials), "--nameservers", box.nameservers_option, "-d", "example.test",
        "--out", str(out), "--agree-tos", "--account-key", str(tmp_path / "key.pem"),
    ]  # fmt: skip
    env = env_of(box, tmp_path)
    process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        # Signal once the process waits for ns2 (which never shows the record): the record is
        # live and the name servers are being asked again. (A signal while the POST's answer
        # is on its way would leave the record to the next run's sweep, as SIGKILL does.)
        deadline = time.monotonic() + 30
        asked: int | None = None
        while asked is None or queries(box.sim) < asked + 4:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the wait never began"
            if asked is None and live_challenges(box.sim):
                asked = queries(box.sim)
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, err
    assert "variomedia-dns: terminated" in err
    assert live_challenges(box.sim) == []
    assert not out.exists()
