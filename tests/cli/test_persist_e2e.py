"""``variomedia-dns persist`` and ``issue --challenge dns-persist-01`` for real: the console script,
the simulator (name servers on port 53), acme2certifier, and a real certbot for its account.

One stage for the module; each test has its own ACME account (its own account directory), so
the records of the tests stand side by side as several accounts' records would.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from persist_stage import persist_sandbox

from certbot_dns_variomedia.testing.acme.acme2certifier import DEFAULT_ISSUER
from certbot_dns_variomedia.testing.demo.persist_sandbox import PersistSandbox
from certbot_dns_variomedia.testing.demo.sandbox import certbot_executable

from .conftest import run_script

pytestmark = pytest.mark.e2e

ACCOUNT_URL = re.compile(r"accounturi=(https://127\.0\.0\.1:\d+/acme/acct/\w+)")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PersistSandbox]:
    with persist_sandbox(tmp_path_factory.mktemp("persist")) as stage:
        yield stage


def variomedia_dns(
    box: PersistSandbox, tmp_path: Path, *args: str, token: bool = False
) -> subprocess.CompletedProcess[str]:
    """The console script, with this test's own account directory; the API token only when
    asked (``check``, ``show`` and a renewal with a standing record must not need it)."""
    env = box.env()
    env.update(
        VARIOMEDIA_DNS_ACCOUNT_DIR=str(tmp_path / "accounts"),
        VARIOMEDIA_DNS_STATE_FILE=str(tmp_path / "state.json"),
    )
    if token:
        env.update(VARIOMEDIA_API_TOKEN=box.sim.token, VARIOMEDIA_API_URL=box.sim.url)
    return run_script(*args, env=env, timeout=120)


def ca(box: PersistSandbox) -> list[str]:
    return ["--server", box.ca.directory_url, "--ca-bundle", str(box.ca.ca_bundle)]


def dns(box: PersistSandbox) -> list[str]:
    return ["--nameservers", box.nameservers_option]


def live(box: PersistSandbox, fqdn: str) -> list[str]:
    return sorted(r.data for r in box.sim.records() if r.fqdn_ace == fqdn and not r.deleted)


def test_show_names_issues_account_and_certbots(box: PersistSandbox, tmp_path: Path) -> None:
    shown = variomedia_dns(
        box, tmp_path, "persist", "show", "-d", "example.test,*.example.test", *ca(box),
        "--agree-tos",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    found = ACCOUNT_URL.search(shown.stdout)
    assert found is not None, shown.stdout
    assert shown.stdout == (
        f'_validation-persist.example.test. IN TXT "{DEFAULT_ISSUER}; '
        f'accounturi={found.group(1)}; policy=wildcard"\n'
    )
    as_json = variomedia_dns(
        box, tmp_path, "persist", "show", "-d", "www.example.test", *ca(box), "--json"
    )
    assert json.loads(as_json.stdout)["account_uri"] == found.group(1)  # the same account

    # certbot's own account for this CA, registered by certbot itself.
    config = tmp_path / "certbot"
    certbot = [
        certbot_executable(), "--server", box.ca.directory_url, "--config-dir", str(config),
        "--work-dir", str(tmp_path / "work"), "--logs-dir", str(tmp_path / "logs"),
        "--non-interactive",
    ]  # fmt: skip
    env = {**box.env(), "REQUESTS_CA_BUNDLE": str(box.ca.ca_bundle)}
    registered = subprocess.run(
        [*certbot, "register", "--agree-tos", "-m", "admin@example.test"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    account = subprocess.run(
        [*certbot, "show_account"], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    url = re.search(r"Account URL: (\S+)", account.stdout)
    assert url is not None, account.stdout + account.stderr

    from_certbot = variomedia_dns(
        box, tmp_path, "persist", "show", "-d", "example.test", *ca(box), "--certbot",
        "--certbot-config-dir", str(config),
    )  # fmt: skip
    assert from_certbot.returncode == 0, from_certbot.stderr
    assert from_certbot.stdout == (
        f'_validation-persist.example.test. IN TXT "{DEFAULT_ISSUER}; accounturi={url.group(1)}"\n'
    )
    assert url.group(1) != found.group(1)


def test_set_then_issue_and_renew_with_no_token_and_no_request(
    box: PersistSandbox, tmp_path: Path
) -> None:
    names = ["-d", "example.test", "-d", "*.example.test", "-d", "www.other.test"]
    done = variomedia_dns(
        box, tmp_path, "persist", "set", *names, *ca(box), *dns(box), "--agree-tos", token=True
    )
    assert done.returncode == 0, done.stderr
    url = ACCOUNT_URL.search(done.stdout)
    assert url is not None, done.stdout
    mine = f"{DEFAULT_ISSUER}; accounturi={url.group(1)}"
    assert f'Set: _validation-persist.example.test TXT "{mine}; policy=wildcard"' in done.stdout
    assert f"{mine}; policy=wildcard" in live(box, "_validation-persist.example.test")
    assert mine in live(box, "_validation-persist.www.other.test")
    assert all(d.update_lock for d in box.sim.domains() if d.name in ("example.test", "other.test"))

    checked = variomedia_dns(box, tmp_path, "persist", "check", *names, *ca(box), *dns(box))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"\*\.example\.test\s+ok\s+wildcard\s+no end\s+2 of 2", checked.stdout)

    before = box.sim.counters.total
    out = tmp_path / "out"
    certificates = []
    for _ in range(2):  # the first certificate, then its renewal
        issued = variomedia_dns(
            box, tmp_path, "issue", "--challenge", "dns-persist-01", *names, *ca(box), *dns(box),
            "--out", str(out),
        )  # fmt: skip
        assert issued.returncode == 0, issued.stderr
        certificates.append((out / "cert.pem").read_bytes())
    leaf = x509.load_pem_x509_certificate(certificates[-1])
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    assert box.sim.counters.total == before  # no API request, no token
    assert certificates[0] != certificates[1]
    assert san.get_values_for_type(x509.DNSName) == ["example.test", "*.example.test",
                                                     "www.other.test"]  # fmt: skip


def test_set_keeps_other_records_and_replaces_only_when_asked(
    box: PersistSandbox, tmp_path: Path
) -> None:
    name = "_validation-persist.shop.example.test"
    others = [
        "other-ca.test; accounturi=https://other-ca.test/acct/1",
        f"{DEFAULT_ISSUER}; accounturi=https://127.0.0.1:1/acme/acct/someone-else",
    ]
    for value in others:
        box.sim.add_record("example.test", "_validation-persist.shop", "TXT", value)
    args = ["-d", "shop.example.test", *ca(box), *dns(box)]

    first = variomedia_dns(box, tmp_path, "persist", "set", *args, "--agree-tos", token=True)
    posts = box.sim.counters.by_route.get("POST /dns-records", 0)
    again = variomedia_dns(box, tmp_path, "persist", "set", *args, token=True)
    refused = variomedia_dns(
        box, tmp_path, "persist", "set", *args, "--policy", "wildcard", token=True
    )

    assert first.returncode == 0, first.stderr
    url = ACCOUNT_URL.search(first.stdout)
    assert url is not None
    mine = f"{DEFAULT_ISSUER}; accounturi={url.group(1)}"
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f'Already set: {name} TXT "{mine}"')
    assert refused.returncode == 1
    assert refused.stderr == (
        "variomedia-dns: error: This account already has a different record for this CA: "
        f'{name} has "{mine}". Nothing was written. To replace it, add --replace.\n'
    )
    assert box.sim.counters.by_route.get("POST /dns-records", 0) == posts  # neither wrote
    assert live(box, name) == sorted([*others, mine])

    until = int(time.time()) + 10 * 86400
    replaced = variomedia_dns(
        box, tmp_path, "persist", "set", *args, "--policy", "wildcard", "--replace",
        "--persist-until", str(until), token=True,
    )  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    newer = f"{mine}; policy=wildcard; persistUntil={until}"
    assert replaced.stdout.startswith(f'Replaced: {name} TXT "{newer}"')
    assert live(box, name) == sorted([*others, newer])

    warned = variomedia_dns(
        box, tmp_path, "persist", "check", "-d", "*.shop.example.test", *args, "--json"
    )
    report = json.loads(warned.stdout)
    assert warned.returncode == 1  # persistUntil within the default 30 days
    assert [n["status"] for n in report["names"]] == ["warn", "warn"]
    assert report["names"][0]["other_accounts"] == [others[1].split("accounturi=")[1]]

    removed = variomedia_dns(box, tmp_path, "persist", "remove", *args, token=True)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(f'Removed: {name} TXT "{newer}"')
    assert live(box, name) == sorted(others)  # only this account's record went
    deadline = time.monotonic() + 10  # the name servers follow the delete job
    while any(newer in box.sim.visible(i, name) for i in range(len(box.sim.dns_servers))):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    gone = variomedia_dns(box, tmp_path, "persist", "check", *args)
    assert gone.returncode == 2
    assert re.search(r"shop\.example\.test\s+FAIL", gone.stdout)
    assert "the record for this CA names another account" in gone.stdout


def test_a_new_account_key_keeps_the_account_url_and_so_the_record(
    box: PersistSandbox, tmp_path: Path
) -> None:
    key = tmp_path / "account-key.pem"
    shown = variomedia_dns(
        box, tmp_path, "persist", "show", "-d", "rotate.example.test", *ca(box),
        "--account-key", str(key), "--agree-tos",
    )  # fmt: skip
    url = ACCOUNT_URL.search(shown.stdout)
    assert url is not None, shown.stdout + shown.stderr
    box.sim.add_record(
        "example.test",
        "_validation-persist.rotate",
        "TXT",
        f"{DEFAULT_ISSUER}; accounturi={url[1]}",
    )
    old = key.read_bytes()

    rotated = variomedia_dns(
        box, tmp_path, "persist", "rotate-key", *ca(box), "--account-key", str(key)
    )
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith(f"The account {url[1]} now signs with a new key, in {key}.")
    assert key.read_bytes() != old
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("account-key")) == [
        "account-key.pem"  # no .new left behind
    ]
    before = box.sim.counters.total
    issued = variomedia_dns(
        box, tmp_path, "issue", "--challenge", "dns-persist-01", "-d", "rotate.example.test",
        *ca(box), *dns(box), "--account-key", str(key), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr  # the same record serves the new key
    assert box.sim.counters.total == before
    key.write_bytes(old)
    refused = variomedia_dns(
        box, tmp_path, "persist", "check", "-d", "rotate.example.test", *ca(box), *dns(box),
        "--account-key", str(key),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "This key has no account at the CA" in refused.stderr  # the old key is retired
