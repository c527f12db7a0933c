"""testing/namespaces.py: the process in a PID namespace of its own ends with the block."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from certbot_dns_variomedia.testing.namespaces import can_unshare, owner_in_new_pid_namespace


def _processes_in(namespace: str) -> list[int]:
    """The processes in the PID namespace with inode `namespace`, seen from here."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            link = os.readlink(entry / "ns" / "pid")
        except OSError:  # ended meanwhile
            continue
        if link == f"pid:[{namespace}]":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not can_unshare(), reason="needs unshare(1)")
def test_the_process_inside_ends_with_the_block() -> None:
    """A kill reaches unshare, not the namespace's first process: without --kill-child that
    process slept on for 10 minutes after every test that used it."""
    try:
        with owner_in_new_pid_namespace() as owner:
            pid, _, _, namespace = owner.split(":")
            assert pid == "1"  # the first process of its namespace
            assert len(_processes_in(namespace)) == 1
    except RuntimeError as e:  # no right to make namespaces here
        pytest.skip(str(e))
    # The kernel kills it when unshare dies; its exit takes a moment. Without the option it
    # would sleep on for 600 s.
    deadline = time.monotonic() + 10.0
    while _processes_in(namespace) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_in(namespace) == []
