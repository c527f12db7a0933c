"""Session fixtures of the documentation tests: the packages built once, the dependency layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import dist


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dist.Dist:
    """The sdist and wheel of this checkout (built once per session, shared with
    tests/test_packaging.py)."""
    return dist.build(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="session")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project virtualenv's packages, without this project, for fresh venvs."""
    return dist.dependency_layer(tmp_path_factory.mktemp("layer"))
