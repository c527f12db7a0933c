"""Hypothesis profiles: random exploration on developer machines, the same examples in CI.

``scripts/run-tests`` (and so ``.ci/run``) selects the ``ci`` profile: a landing never depends
on which examples chance drew. A plain ``pytest`` keeps Hypothesis' random exploration, which
is how new failing inputs are found; found ones become ``@example`` lines.
"""

from __future__ import annotations

import importlib.util
import os

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"

# The end-to-end runs under old certbot releases (scripts/compat-tests) have no Hypothesis.
if importlib.util.find_spec("hypothesis") is not None:
    from hypothesis import HealthCheck, settings

    # Derandomized: every run draws the same examples (derived from each test's source), and
    # the example database neither replays nor stores anything between runs.
    # Hypothesis loads a "ci" profile of its own where a CI variable is set, and a profile
    # without a parent inherits from whatever is loaded: both of ours name theirs.
    default = settings.get_profile("default")
    # No deadline and no too-slow check: a loaded CI machine is slow, not wrong.
    settings.register_profile(
        "ci",
        parent=default,
        derandomize=True,
        database=None,
        print_blob=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", parent=default)
    settings.load_profile(os.environ.get(PROFILE_VARIABLE, "dev"))
