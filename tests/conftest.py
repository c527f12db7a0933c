"""For every test: Hypothesis profiles, and a DeprecationWarning from this package's code fails.

Hypothesis: random exploration on developer machines, the same examples in CI.
``scripts/run-tests`` (and so ``.ci/run``) selects the ``ci`` profile: a landing never depends
on which examples chance drew. A plain ``pytest`` keeps Hypothesis' random exploration, which
is how new failing inputs are found; found ones become ``@example`` lines.

Deprecations: what a library deprecates, its next release removes, and users upgrade certbot
before they upgrade this plugin. ``filterwarnings`` in pyproject.toml makes the warnings that
name one of our modules errors, but a library may name its own frame instead (certbot 5.3's
``AnnotatedChallenge.domain`` does): the guard below looks at who called the library, and lets
the deprecations that the library brings about itself, or other libraries, pass.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import sys
import threading
import warnings
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"

# The end-to-end runs under old certbot releases (scripts/compat-tests) have no Hypothesis.
if importlib.util.find_spec("hypothesis") is not None:
    from hypothesis import HealthCheck, settings

    # The first text a test draws makes Hypothesis build its Unicode tables (seconds of CPU in
    # a fresh checkout); on a busy CI machine that took 45 s and failed the "too slow" health
    # check, which says nothing about the code under test.
    busy = [HealthCheck.too_slow]
    # Derandomized: every run draws the same examples (derived from each test's source), and
    # the example database neither replays nor stores anything between runs.
    # Hypothesis loads a "ci" profile of its own where a CI variable is set, and a profile
    # without a parent inherits from whatever is loaded: both of ours name theirs.
    default = settings.get_profile("default")
    # No deadline in CI: a loaded machine is slow, not wrong.
    settings.register_profile(
        "ci",
        parent=default,
        derandomize=True,
        database=None,
        print_blob=True,
        deadline=None,
        suppress_health_check=busy,
    )
    settings.register_profile("dev", parent=default, suppress_health_check=busy)
    settings.load_profile(os.environ.get(PROFILE_VARIABLE, "dev"))

PACKAGE = "certbot_dns_variomedia"


def _module(frame: FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def caller_outside_library(frame: FrameType | None) -> str | None:
    """The module of the first frame outside the package of `frame` (the code that warned)."""
    if frame is None:
        return None
    library = _module(frame).split(".")[0]
    caller = frame.f_back
    while caller is not None and _module(caller).split(".")[0] == library:
        caller = caller.f_back
    return _module(caller) if caller is not None else None


def is_own(module: str | None) -> bool:
    return module is not None and (module == PACKAGE or module.startswith(PACKAGE + "."))


@pytest.fixture(autouse=True)
def _own_deprecations_fail(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    found: list[str] = []
    original = warnings.warn

    def warn(
        message: Any, category: Any = None, stacklevel: int = 1, source: Any = None, **kw: Any
    ) -> None:
        kind = category or (type(message) if isinstance(message, Warning) else UserWarning)
        if not issubclass(kind, DeprecationWarning):
            original(message, category, stacklevel + 1, source, **kw)
            return
        frame: FrameType | None = sys._getframe(1)  # the code that warned
        if stacklevel <= 1:  # the library names itself: who called it is to blame
            blamed = caller_outside_library(frame)
        else:  # the library names the frame to blame
            for _ in range(stacklevel - 1):
                frame = frame.f_back if frame is not None else None
            blamed = _module(frame) if frame is not None else None
        if not is_own(blamed):
            original(message, category, stacklevel + 1, source, **kw)
            return
        # The filters still decide (certbot itself silences some of its own warnings).
        with warnings.catch_warnings(record=True) as shown:
            original(message, category, stacklevel + 1, source, **kw)
        found.extend(f"{blamed} uses what {w.filename}:{w.lineno} deprecates: {w.message}"
                     for w in shown)  # fmt: skip

    monkeypatch.setattr(warnings, "warn", warn)
    yield
    if found:
        pytest.fail(f"A DeprecationWarning from this package's code: {found[0]}")


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[bytes]]]:
    """A 'proxy' on loopback that notes what reaches it and answers nothing useful."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2.0)
                with contextlib.suppress(OSError):
                    seen.append(conn.recv(65536))
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    finally:
        stop.set()
        thread.join(timeout=10)
        server.close()
