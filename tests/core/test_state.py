"""The state file: atomic, locked, nothing forgotten — with real files and real processes."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from certbot_dns_variomedia.core.state import StateFile, StoredRecord
from certbot_dns_variomedia.credentials import account_key


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
