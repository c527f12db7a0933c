"""The state file: atomic, locked, nothing forgotten, nothing trusted that does not have its
shape, never used where another user can reach it — with real files and real processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from certbot_dns_variomedia.core.state import (
    FOREIGN_OWNER_MAX_AGE,
    UNANSWERED,
    HookOrder,
    StateFile,
    StoredRecord,
    owner_alive,
    process_owner,
)
from certbot_dns_variomedia.credentials import account_key
from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.testing.lock_holder import holding_lock
from certbot_dns_variomedia.testing.namespaces import can_unshare, owner_in_new_pid_namespace


def rec(record_id: str) -> StoredRecord:
    return StoredRecord(
        record_id=record_id,
        account="acct",
        zone="example.test",
        fqdn="_acme-challenge.example.test",
        value=f"value-{record_id}",
    )


def test_round_trip_and_file_mode(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "sub" / "state.json")
    state.add(rec("1"))
    state.add(rec("2"))
    assert [r.record_id for r in state.records()] == ["1", "2"]
    assert (tmp_path / "sub" / "state.json").stat().st_mode & 0o777 == 0o600
    state.discard({"1"})
    assert [r.record_id for r in state.records()] == ["2"]


def test_empty_state_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = StateFile(path)
    state.add(rec("1"))
    state.discard({"1"})
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["state.json.lock"]


def test_unreadable_file_is_kept_aside_not_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"records": [{"record_id": ')
    state = StateFile(path)
    assert state.records() == []
    aside = [p for p in tmp_path.iterdir() if ".unreadable-" in p.name]
    assert len(aside) == 1
    assert aside[0].read_text().startswith('{"records"')


def test_unknown_fields_from_a_newer_version_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    entry = {**rec("7").__dict__, "from_the_future": True}
    path.write_text(json.dumps({"version": 2, "records": [entry]}))
    assert [r.record_id for r in StateFile(path).records()] == ["7"]


def test_account_key_hides_the_token() -> None:
    key = account_key("https://api.variomedia.de/", "s3cr3t-token-value")
    assert "s3cr3t" not in key
    assert key == account_key("https://api.variomedia.de", "s3cr3t-token-value")
    assert key != account_key("https://api.variomedia.de", "other-token-value")


def _add_many(path: str, prefix: str) -> None:
    state = StateFile(path)
    for i in range(25):
        state.add(rec(f"{prefix}{i}"))


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_many, args=(path, p)) for p in "abcd"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(StateFile(path).records()) == 100


def _valid_entry() -> dict[str, object]:
    return dict(rec("7").__dict__)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ({"records": ["x"]}, "entry 1 is not an object"),
        ([_valid_entry()], "no list of records"),
        ({"records": [{**_valid_entry(), "record_id": ".."}]}, "entry 1: record_id is not"),
        ({"records": [{**_valid_entry(), "record_id": "."}]}, "entry 1: record_id is not"),
        ({"records": [{**_valid_entry(), "record_id": "1/../../domains"}]}, "entry 1: record_id"),
        ({"records": [{**_valid_entry(), "record_id": 7}]}, "entry 1: record_id is not"),
        ({"records": [_valid_entry(), {**_valid_entry(), "zone": None}]}, "entry 2: zone is"),
        ({"records": [{**_valid_entry(), "deleting": "yes"}]}, "entry 1: deleting is not"),
        ({"records": [{**_valid_entry(), "owner": ["1", "2"]}]}, "entry 1: owner is not text"),
        ({"records": [{**_valid_entry(), "created": 10**400}]}, "entry 1: created is not a time"),
    ],
)
def test_a_file_of_the_wrong_shape_is_moved_aside_like_unreadable_json(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: object, why: str
) -> None:
    """Once an AttributeError in every run, and a file never moved aside; or an id such as
    '..' that became DELETE /dns-records/.. (that is: DELETE /)."""
    path = tmp_path / "state.json"
    path.write_text(json.dumps(content))
    state = StateFile(path)
    assert state.records() == []
    aside = [p for p in tmp_path.iterdir() if ".unreadable-" in p.name]
    assert len(aside) == 1
    assert json.loads(aside[0].read_text()) == content
    assert any(
        m.startswith(f"The state file {path} could not be read ({why}") for m in caplog.messages
    )
    state.add(rec("8"))  # the next run starts a new file
    assert [r.record_id for r in state.records()] == ["8"]


def test_an_entry_noted_before_its_post_was_answered_has_a_valid_id(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    StateFile(path).add(rec(UNANSWERED + "0" * 32))
    assert [r.record_id for r in StateFile(path).records()] == [UNANSWERED + "0" * 32]


def test_a_state_file_planted_as_a_symlink_is_refused_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("root's own file\n")
    (tmp_path / "state.json").symlink_to(victim)
    state = StateFile(tmp_path / "state.json")
    with pytest.raises(ConfigurationError, match=r"state\.json is a symbolic link\. Keep it in"):
        state.add(rec("1"))
    assert victim.read_text() == "root's own file\n"
    assert (tmp_path / "state.json").is_symlink()  # refused, not moved aside either


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a directory to another user")
def test_a_state_file_in_another_users_directory_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, 4242, 4242)
    with pytest.raises(
        ConfigurationError,
        match=r"The state file .*state\.json is not used: .*home belongs to uid 4242",
    ):
        StateFile(home / "state.json").records()
    assert list(home.iterdir()) == []


def test_a_held_lock_is_waited_for_a_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with holding_lock(tmp_path / "state.json.lock"):
        started = time.monotonic()
        with pytest.raises(
            ConfigurationError, match=r"has been locked by another process for 0\.3 s"
        ):
            StateFile(path, lock_timeout=0.3).records()
        assert time.monotonic() - started < 3.0
    assert StateFile(path, lock_timeout=0.3).records() == []


# -- owners in other PID namespaces (containers sharing the state file) ---------------------------


def test_owners_of_another_boot_or_namespace_or_the_old_form() -> None:
    here = process_owner()
    pid, start, boot, namespace = here.split(":")
    assert owner_alive(here)
    assert owner_alive(f"{pid}:{start}")  # written before namespaces were recorded
    assert not owner_alive(f"{pid}:{start}:another-boot:{namespace}")
    elsewhere = f"1:{start}:{boot}:4026599999"  # pid 1 of a container
    assert owner_alive(elsewhere, created=time.time() - 3600)  # cannot be looked up: in use
    assert not owner_alive(elsewhere, created=time.time() - FOREIGN_OWNER_MAX_AGE - 1)
    assert not owner_alive("garbage")
    assert not owner_alive("1:2:3")


@pytest.mark.skipif(not can_unshare(), reason="needs unshare(1)")
def test_a_live_run_in_another_pid_namespace_is_never_taken_for_dead() -> None:
    """A container (a PID namespace of its own) shares certbot's work directory with the
    host: its run's pid is 1 or so there, and pid 1 here is init, with another start time."""
    with owner_in_new_pid_namespace() as owner:
        pid, _, _, namespace = owner.split(":")
        assert int(pid) < 10  # its own numbering
        assert namespace != process_owner().split(":")[3]
        assert owner_alive(owner, created=time.time())


def test_noted_hook_orders_live_beside_the_records_and_leave_no_file_when_gone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.json"
    state = StateFile(path)
    with state.edit_orders() as orders:
        orders.append(HookOrder("123:456", 1, [("example.test", "v1")]))
    state.add(rec("1"))
    state.discard({"1"})  # editing the records keeps the orders
    with state.edit_orders() as orders:
        assert orders == [HookOrder("123:456", 1, [("example.test", "v1")])]
        orders.clear()
    assert not path.exists()


def test_an_unreadable_hook_order_is_dropped_and_the_records_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    record = {"record_id": "1", "account": "a", "zone": "z", "fqdn": "f", "value": "v"}
    path.write_text(json.dumps({"version": 1, "records": [record], "hook_orders": [{"x": 1}]}))
    state = StateFile(path)
    with state.edit_orders() as orders:
        assert orders == []
    assert [r.record_id for r in state.records()] == ["1"]
