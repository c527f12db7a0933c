"""CI runs Hypothesis deterministically; developer runs explore at random (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_ci_profile_is_deterministic() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize is True
    assert ci.database is None
    assert settings.get_profile("dev").derandomize is False


def test_ci_selects_it_and_a_plain_run_does_not() -> None:
    script = (ROOT / "scripts" / "run-tests").read_text()
    assert 'export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"' in script
    probe = "from hypothesis import settings; print(settings.default.derandomize)"
    for profile, derandomized in (("ci", "True"), (None, "False")):
        env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
        # Hypothesis loads a profile of its own where CI is set: ours must not inherit it.
        env["CI"] = "true"
        if profile is not None:
            env["HYPOTHESIS_PROFILE"] = profile
        done = subprocess.run(
            [sys.executable, "-c", f"import conftest; {probe}"],
            cwd=ROOT / "tests",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.stdout.strip() == derandomized, (profile, done.stderr)
