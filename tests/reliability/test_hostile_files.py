"""Files another user (or a backup, or another host) put where the tool keeps its own.

certbot renewals run as root, often with a user's environment (``sudo -E``). Each row plants
what an attacker or an accident would: a symbolic link, a held lock, a forged ledger, a state
file of the wrong shape or listing another record's id. The certbot process is real and runs
as root, as in production; the tests hand directories to ``nobody`` with chown.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certbot_dns_variomedia.credentials import account_key
from certbot_dns_variomedia.paths import pacing_ledger_file
from certbot_dns_variomedia.testing.lock_holder import holding_lock
from certbot_dns_variomedia.testing.namespaces import can_unshare, owner_in_new_pid_namespace

from .harness import Stage, output
from .rows import BadInputRow, declare

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="plays root, handing files to other users"),
]

ISSUED = "Successfully received certificate"
OWN_ONLY = "its own challenge record, removed afterwards"
VICTIM = "a root-owned file the attacker wants overwritten\n"
HOOK = str(Path(sys.executable).with_name("variomedia-dns"))


def certonly(stage: Stage, env: dict[str, str] | None = None) -> tuple[int, str]:
    command = stage.command(["example.test"], cert_name="row")
    result = subprocess.run(
        command,
        env={**stage.box.env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, output(result)


def ledger(stage: Stage, cache: Path) -> Path:
    """Where the plugin's pacing ledger is when the cache directory is `cache`."""
    netloc = stage.sim.url.split("//", 1)[1]
    return pacing_ledger_file(netloc, {"VARIOMEDIA_DNS_CACHE_DIR": str(cache)})


def nobodys(path: Path) -> Path:
    """`path` made a directory of the user ``nobody``, as a user's own ~/.cache is theirs."""
    user = pwd.getpwnam("nobody")
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, user.pw_uid, user.pw_gid)
    return path


# -- the pacing ledger -----------------------------------------------------------------------------


@declare(
    BadInputRow(
        given="As root, the pacing ledger's directory belongs to another user, who made the "
        "ledger a symbolic link to a root-owned file (sudo -E with the user's cache directory)",
        door="certbot",
        result="works, with a warning",
        says=(
            "The pacing ledger {ledger} cannot be used ({dir} belongs to user nobody, and only "
            "root or user root may own the directories on the way); pacing this process's API "
            "requests on its own.",
            ISSUED,
        ),
        written=OWN_ONLY + "; the root-owned file is unchanged",
        requests=(4, 4),
        promises=(6,),
    )
)
def test_a_ledger_planted_as_a_symlink_by_a_user(stage: Stage, row: BadInputRow) -> None:
    victim = stage.root / "root-owned"
    victim.write_text(VICTIM)
    cache = nobodys(stage.root / "home" / "user" / ".cache")
    planted = ledger(stage, cache)
    planted.symlink_to(victim)
    os.lchown(planted, *(pwd.getpwnam("nobody")[2:4]))
    status, text = certonly(stage, {"VARIOMEDIA_DNS_CACHE_DIR": str(cache)})
    stage.verify_bad_input(row, status, text, {"ledger": str(planted), "dir": str(cache)})
    assert victim.read_text() == VICTIM
    assert planted.is_symlink()


@declare(
    BadInputRow(
        given="Another process holds the pacing ledger's lock and never lets go (a hung run, "
        "or another user's doing)",
        door="certbot",
        result="works, with a warning",
        says=(
            "The pacing ledger {ledger} cannot be used (another process has held its lock for "
            "10 s); pacing this process's API requests on its own.",
            ISSUED,
        ),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(6,),
    )
)
def test_a_held_ledger_lock_is_waited_for_ten_seconds(stage: Stage, row: BadInputRow) -> None:
    cache = stage.box.cache_dir / "certbot-dns-variomedia"
    held = ledger(stage, cache)
    held.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with holding_lock(held):
        started = time.monotonic()
        status, text = certonly(stage)
        took = time.monotonic() - started
    stage.verify_bad_input(row, status, text, {"ledger": str(held)})
    assert took < 60, took  # once: for ever


@declare(
    BadInputRow(
        given="A pacing ledger whose entries were answered 10^8 s in the future, with a pause "
        "until 10^400 (forged, or written before a reboot)",
        door="certbot",
        result="works",
        says=(ISSUED,),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(6,),
    )
)
def test_a_forged_ledger_makes_no_long_wait_and_no_crash(stage: Stage, row: BadInputRow) -> None:
    path = ledger(stage, stage.box.cache_dir / "certbot-dns-variomedia")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = time.monotonic()  # the system-wide clock certbot's pacer reads too
    entries = ",".join(f'["forged-{i}", {now}, {now + 1e8}]' for i in range(10))
    path.write_text(f'{{"entries": [{entries}], "pause_until": 1{"0" * 400}}}')
    path.chmod(0o600)
    started = time.monotonic()
    status, text = certonly(stage)
    stage.verify_bad_input(row, status, text)
    assert "OverflowError" not in text
    assert time.monotonic() - started < 60


# -- the state file ----------------------------------------------------------------------------


@declare(
    BadInputRow(
        given="As root, the manual hooks' state file is in a directory of another user "
        "(VARIOMEDIA_DNS_STATE_FILE from the user's environment)",
        door="certbot --manual with variomedia-dns hooks",
        result="refused by the plugin",
        says=(
            "The state file {file} is not used: {dir} belongs to user nobody, and only root or "
            "user root may own the directories on the way. Keep it in a directory that belongs "
            "to this user (or root) and that no one else can write.",
        ),
        written="no API write; no record created; nothing in the user's directory",
        requests=(0, 0),
        promises=(4, 6),
    )
)
def test_hooks_refuse_a_state_file_in_a_users_directory(stage: Stage, row: BadInputRow) -> None:
    home = nobodys(stage.root / "home" / "user")
    state = home / "state.json"
    hooks = [
        f"--manual-{kind}-hook={HOOK} certbot-{kind} --credentials "
        f"{stage.box.credentials} --nameservers {stage.box.nameservers_option}"
        for kind in ("auth", "cleanup")
    ]
    command = stage.certbot_box.certbot_command(
        "certonly", "--manual", "--preferred-challenges", "dns", *hooks,
        "--cert-name", "row", "-d", "example.test",
    )  # fmt: skip
    result = subprocess.run(
        command,
        env={**stage.box.env(), "VARIOMEDIA_DNS_STATE_FILE": str(state)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    stage.verify_bad_input(
        row, result.returncode, output(result), {"file": str(state), "dir": str(home)}
    )
    assert list(home.iterdir()) == []


def _plugin_state(stage: Stage) -> Path:
    path = stage.certbot_box.work_dir / "dns-variomedia-state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _entry(stage: Stage, record_id: str) -> dict[str, object]:
    """A leftover of a dead run of this account (owner: no such process)."""
    return {
        "record_id": record_id,
        "account": account_key(stage.sim.url, stage.sim.token),
        "zone": "example.test",
        "fqdn": "_acme-challenge.example.test",
        "value": "a-value-of-a-dead-run",
        "owner": "999999999:1",
    }


@declare(
    BadInputRow(
        given='A state file whose entry has the record id ".." (once DELETE /dns-records/.., '
        "that is DELETE /)",
        door="certbot",
        result="works, with a warning",
        says=(
            "The state file {state} could not be read (entry 1: record_id is not a record id); "
            "it was moved to {state}.unreadable-",
            ISSUED,
        ),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(2, 6),
    )
)
def test_a_state_file_with_a_dot_dot_id_is_moved_aside(stage: Stage, row: BadInputRow) -> None:
    _plugin_state(stage).write_text(json.dumps({"records": [_entry(stage, "..")]}))
    status, text = certonly(stage)
    stage.verify_bad_input(row, status, text)
    assert not [e for e in stage.sim.log if e.method == "DELETE" and e.path == "/"]


@declare(
    BadInputRow(
        given='A state file that is JSON of the wrong shape ({"records": ["x"]})',
        door="certbot",
        result="works, with a warning",
        says=(
            "The state file {state} could not be read (entry 1 is not an object); it was moved "
            "to {state}.unreadable-",
            ISSUED,
        ),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(4, 6),
    )
)
def test_a_state_file_of_the_wrong_shape_is_moved_aside(stage: Stage, row: BadInputRow) -> None:
    _plugin_state(stage).write_text(json.dumps({"records": ["x"]}))
    status, text = certonly(stage)
    stage.verify_bad_input(row, status, text)
    assert "AttributeError" not in text


@declare(
    BadInputRow(
        given="A state file that lists the zone's MX record under the id of a TXT leftover of a "
        "dead run (corrupted, restored from a backup, copied between hosts, or forged)",
        door="certbot",
        result="works, with a warning",
        says=(
            "Not deleting record {mx}, listed in {state} as the TXT record at "
            "_acme-challenge.example.test that an earlier run wrote: the API shows it as type "
            "MX, at example.test. Its entry is dropped; the record is left as it is.",
            ISSUED,
        ),
        written=OWN_ONLY + "; the MX record untouched",
        requests=(5, 5),
        promises=(2, 6),
    )
)
def test_a_forged_leftover_never_deletes_a_foreign_record(stage: Stage, row: BadInputRow) -> None:
    mx = stage.sim.add_record("example.test", "", "MX", "10 mail.example.test")
    stage.untouched = stage.snapshot_others()
    _plugin_state(stage).write_text(json.dumps({"records": [_entry(stage, mx.id)]}))
    status, text = certonly(stage)
    stage.verify_bad_input(row, status, text, {"mx": mx.id})
    assert "Removed TXT" not in text
    left = json.loads(_plugin_state(stage).read_text())["records"]  # the run's queued removal
    assert mx.id not in [e["record_id"] for e in left]  # the forged entry was dropped


@declare(
    BadInputRow(
        given="The state file is shared with a container (the Docker example shares certbot's "
        "work directory) and lists a record of a run still going there, in another PID "
        "namespace (its pid names another process here)",
        door="certbot",
        result="works",
        says=(ISSUED,),
        written=OWN_ONLY + "; the other run's record untouched",
        requests=(4, 4),
        promises=(1, 2, 6),
    )
)
def test_a_run_in_another_container_is_never_swept(stage: Stage, row: BadInputRow) -> None:
    if not can_unshare():
        pytest.skip("needs unshare(1)")
    with owner_in_new_pid_namespace() as owner:
        assert owner.split(":")[0] in ("1", "2"), owner  # the container's own numbering
        busy = stage.sim.add_record(
            "example.test", "_acme-challenge", "TXT", "a-run-in-a-container", ttl=300
        )
        stage.untouched = stage.snapshot_others()
        entry = {
            **_entry(stage, busy.id),
            "value": "a-run-in-a-container",
            "owner": owner,
            "created": time.time(),
        }
        _plugin_state(stage).write_text(json.dumps({"records": [entry]}))
        status, text = certonly(stage)
    stage.verify_bad_input(row, status, text)
    assert "an earlier run left behind" not in text
    left = json.loads(_plugin_state(stage).read_text())["records"]
    assert busy.id in [e["record_id"] for e in left]  # still the other run's, for its cleanup


@declare(
    BadInputRow(
        given="Credentials file owned by another user (mode 600), read by root",
        door="certbot",
        result="works, with a warning",
        says=(
            "Unsafe owner of credentials configuration file: {file} belongs to user nobody, who "
            "could send the secrets to a server of their choosing; run: chown 0 {file}",
            ISSUED,
        ),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(5, 6),
    )
)
def test_credentials_of_another_user_are_warned_about(stage: Stage, row: BadInputRow) -> None:
    text = f"dns_variomedia_token = {stage.sim.token}\ndns_variomedia_api_url = {stage.sim.url}\n"
    path = stage.write_credentials("theirs.ini", text)
    os.chown(path, *(pwd.getpwnam("nobody")[2:4]))
    result = stage.run(stage.command(["example.test"], cert_name="row", credentials=path))
    stage.verify_bad_input(row, result.returncode, output(result), {"file": str(path)})


@declare(
    BadInputRow(
        given="A proxy in root's environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, as sudo -E "
        "keeps them) and a 'default' entry in root's ~/.netrc, with the API on loopback",
        door="variomedia-dns",
        result="works",
        says=("example.test",),
        written="read only; the proxy receives nothing, the API only the credentials' token",
        requests=(2, 2),
        promises=(5,),
    )
)
def test_a_proxy_and_a_netrc_from_the_environment_are_not_used(
    stage: Stage, row: BadInputRow, proxy: tuple[str, list[bytes]], tmp_path: Path
) -> None:
    url, seen = proxy
    netrc = tmp_path / "netrc"
    netrc.write_text("default login somebody password unrelated-secret\n")
    netrc.chmod(0o600)
    environment = {name: url for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY")}
    result = subprocess.run(
        [HOOK, "records", "list", "--credentials", str(stage.box.credentials)],
        env={**stage.box.env(), **environment, "NETRC": str(netrc), "NO_PROXY": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seen == []
    stage.verify_bad_input(row, result.returncode, output(result))
