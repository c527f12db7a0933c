"""The pacer's arithmetic (fake clock), its shared ledger (real files, real processes), and a
client's burst against the simulator's real rate limit."""

from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import replace
from pathlib import Path

import pytest

from certbot_dns_variomedia.pacing import FileLedger, RequestPacer
from certbot_dns_variomedia.testing.fake_clock import FakeClock
from certbot_dns_variomedia.testing.lock_holder import holding_lock
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from .conftest import CONFIG, client_for


def test_first_requests_of_a_window_pass_without_waiting() -> None:
    clock = FakeClock()
    pacer = RequestPacer(limit=3, window=10.0, clock=clock)
    for _ in range(3):
        with pacer.slot():
            pass
    assert clock.sleeps == []
    assert pacer.waited == 0.0


def test_request_past_the_limit_waits_a_window_from_the_oldest_answer() -> None:
    clock = FakeClock()
    pacer = RequestPacer(limit=2, window=10.0, clock=clock)
    with pacer.slot():
        clock.advance(0.5)  # the first answer arrives after 0.5 s
    answered_first = clock.now
    with pacer.slot():
        pass
    with pacer.slot():
        sent_third = clock.now
    assert sent_third >= answered_first + 10.0
    assert sent_third < answered_first + 10.2


def test_no_window_ever_holds_more_than_the_limit() -> None:
    clock = FakeClock()
    pacer = RequestPacer(limit=5, window=1.0, clock=clock)
    sent: list[float] = []
    for _ in range(40):
        with pacer.slot():
            sent.append(clock.now)
            clock.advance(0.01)
    for i, t in enumerate(sent):
        in_window = [s for s in sent[i:] if s < t + 1.0]
        assert len(in_window) <= 5


def test_pause_holds_every_request_back() -> None:
    clock = FakeClock()
    pacer = RequestPacer(limit=10, window=10.0, clock=clock)
    start = clock.now
    pacer.pause(7.0)
    with pacer.slot():
        assert clock.now >= start + 7.0


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        RequestPacer(limit=0)


def test_file_ledger_survives_garbage_and_keeps_counting(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text("{not json")
    clock = FakeClock()
    pacer = RequestPacer(limit=1, window=5.0, clock=clock, ledger=FileLedger(path))
    with pacer.slot():
        pass
    saved = json.loads(path.read_text())
    assert len(saved["entries"]) == 1
    assert saved["entries"][0][2] is not None  # the answer time was recorded


def _hammer(path: str, n: int, out: multiprocessing.Queue[float]) -> None:
    pacer = RequestPacer(limit=4, window=0.6, ledger=FileLedger(path))
    for _ in range(n):
        with pacer.slot():
            out.put(time.monotonic())


def test_processes_sharing_a_ledger_share_one_limit(tmp_path: Path) -> None:
    """Two processes, 6 requests each, limit 4 per 0.6 s: never more than 4 in a window."""
    path = str(tmp_path / "shared.json")
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[float] = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(path, 6, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    stamps = sorted(out.get(timeout=5) for _ in range(12))
    for i, t in enumerate(stamps):
        # send times of requests that started within 0.6 s of this one (minus scheduling slack)
        in_window = [s for s in stamps[i:] if s < t + 0.55]
        assert len(in_window) <= 4, stamps


# -- a client's burst against the real limit ------------------------------------------------------


def test_a_burst_of_40_requests_draws_no_429() -> None:
    with VariomediaSimulator(replace(CONFIG, rate_limit=(5, 0.5))) as sim:
        client = client_for(sim, pacer=RequestPacer(limit=5, window=0.5))
        for _ in range(40):
            client.get_domain("example.test")
        assert sim.counters.total == 40
        assert sim.counters.too_many_requests == 0


def test_without_pacing_the_same_burst_draws_429s_and_still_finishes() -> None:
    """The control experiment: the simulator's limit is real, and Retry-After saves the day.

    Four requests within 2 s draw the 429 on any machine; the limit of 5 in 0.5 s this test had
    was missed by a CI machine busy enough to take longer than that for them."""
    with VariomediaSimulator(replace(CONFIG, rate_limit=(3, 2.0))) as sim:
        client = client_for(sim)
        for _ in range(6):
            client.get_domain("example.test")
        assert sim.counters.too_many_requests > 0
        assert sim.counters.by_status[200] == 6


# -- a ledger someone else wrote ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("answered", "pause_until"),
    [
        ("now + 1e8", "0"),  # entries from the future: once a 10^8 s wait
        ("1e999", "0"),  # JSON's way to say infinity
        ("1" + "0" * 400, "0"),  # an integer too large for a float: once an OverflowError
        ("now", "now + 1e8"),  # a pause that would never end
        ("now", "1" + "0" * 400),
    ],
)
def test_a_forged_ledger_never_makes_a_long_wait_or_a_crash(
    tmp_path: Path, answered: str, pause_until: str
) -> None:
    clock = FakeClock()
    now = clock.monotonic()

    def value(text: str) -> str:
        return repr(now + 1e8) if text == "now + 1e8" else repr(now) if text == "now" else text

    path = tmp_path / "ledger.json"
    forged = ",".join(f'["k{i}", {now}, {value(answered)}]' for i in range(10))
    path.write_text(f'{{"entries": [{forged}], "pause_until": {value(pause_until)}}}')
    path.chmod(0o600)
    pacer = RequestPacer(limit=10, window=10.0, clock=clock, ledger=FileLedger(path))
    with pacer.slot():
        pass
    assert all(s <= 10.0 + 0.05 for s in clock.sleeps), clock.sleeps
    assert clock.now - now <= 10.0 + 0.05


def test_every_wait_is_at_most_one_window(tmp_path: Path) -> None:
    """A long Retry-After is waited out one window at a time, re-reading the ledger each time."""
    clock = FakeClock()
    pacer = RequestPacer(limit=10, window=10.0, clock=clock, ledger=FileLedger(tmp_path / "l"))
    pacer.pause(45.0)
    with pacer.slot():
        pass
    assert max(clock.sleeps) <= 10.05
    assert 45.0 <= sum(clock.sleeps) < 46.0


def test_an_unsafe_ledger_is_replaced_by_a_count_in_memory_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("root's own file\n")
    link = tmp_path / "ledger.json"
    link.symlink_to(victim)
    clock = FakeClock()
    pacer = RequestPacer(limit=2, window=10.0, clock=clock, ledger=FileLedger(link))
    for _ in range(3):
        with pacer.slot():
            pass
    assert victim.read_text() == "root's own file\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"The pacing ledger {link} cannot be used ({link} is a symbolic link); pacing this "
        "process's API requests on its own. Runs at the same time may then draw the API's "
        "rate limit (429), which is waited out."
    ]
    assert clock.sleeps[:1] == [10.05]  # still paced, in memory


def test_a_ledger_locked_by_someone_else_is_given_up_after_a_bounded_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.json"
    with holding_lock(path):
        pacer = RequestPacer(ledger=FileLedger(path, lock_timeout=0.5))
        started = time.monotonic()
        with pacer.slot():
            pass
        assert time.monotonic() - started < 3.0
    assert "another process has held its lock for 0.5 s" in caplog.text
