"""testing/namespaces.py: the process in a PID namespace of its own ends with the block."""

from __future__ import annotations

from pathlib import Path

import pytest

from certbot_dns_variomedia.testing import namespaces
from certbot_dns_variomedia.testing.namespaces import can_unshare, owner_in_new_pid_namespace


def _inside_processes() -> int:
    """Pythons running the helper's program, wherever their namespace is (not unshare)."""
    count = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:  # ended meanwhile
            continue
        count += Path(argv[0]).name != "unshare" and namespaces._OWNER_INSIDE in argv
    return count


@pytest.mark.skipif(not can_unshare(), reason="needs unshare(1)")
def test_the_process_inside_ends_with_the_block() -> None:
    """A kill reaches unshare, not the namespace's first process: without --kill-child that
    process slept on for 10 minutes after every test that used it."""
    before = _inside_processes()
    try:
        with owner_in_new_pid_namespace() as owner:
            assert owner.split(":")[0] == "1"  # the first process of its namespace
            assert _inside_processes() == before + 1
    except RuntimeError as e:  # no right to make namespaces here
        pytest.skip(str(e))
    assert _inside_processes() == before
