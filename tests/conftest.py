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
    from hypothesis import settings

    # Derandomized: every run draws the same examples (derived from each test's source), and
    # the example database neither replays nor stores anything between runs.
    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    settings.register_profile("dev")
    settings.load_profile(os.environ.get(PROFILE_VARIABLE, "dev"))
