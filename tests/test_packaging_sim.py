"""The ``sim`` extra: what the shipped simulators and test servers need, and nothing more.

Other projects test against ``certbot_dns_variomedia.testing``; they install
``certbot-dns-variomedia[sim]`` and must not get mypy, ruff and twine with it. So the extra is
held to what ``testing/`` imports, and the wheel with ``[sim]`` runs the simulators in a fresh
venv that has only the install requirements and the extra (offline, as in test_packaging.py).
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import json
import signal
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from testing.served import Served

from docs import dist

REPO = dist.REPO
TESTING = REPO / "certbot_dns_variomedia" / "testing"
# The dns-persist-01 CA runner: the one test server with an extra of its own (acme-ca).
ACME_CA = TESTING / "acme" / "acme2certifier.py"


def extras_require() -> tuple[list[str], dict[str, list[str]]]:
    """setup.cfg's install_requires and extras, one requirement per line."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")

    def lines(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip()]

    extras = {k: lines(v) for k, v in config["options.extras_require"].items()}
    return lines(config["options"]["install_requires"]), extras


def imported_top_level(paths: list[Path]) -> set[str]:
    """Top-level names of the absolute imports of these modules."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def distributions_imported_by(paths: list[Path]) -> set[str]:
    """The distributions these modules' third-party imports come from (canonical names)."""
    providers = importlib.metadata.packages_distributions()
    third_party = imported_top_level(paths) - set(sys.stdlib_module_names) - {"__future__"}
    third_party.discard(dist.PROJECT)
    missing = third_party - set(providers)
    assert not missing, f"imports no installed distribution provides: {missing}"
    return {canonicalize_name(d) for name in third_party for d in providers[name]}


def test_the_sim_extras_are_what_the_test_servers_import_beyond_the_requirements() -> None:
    install_requires, extras = extras_require()
    installed_anyway = dist.requirement_closure(install_requires)

    def names(extra: str) -> set[str]:
        return {canonicalize_name(Requirement(r).name) for r in extras[extra]}

    servers = [p for p in TESTING.rglob("*.py") if p != ACME_CA]
    needed = distributions_imported_by(servers)
    assert names("sim") == needed - installed_anyway
    assert needed <= dist.requirement_closure(install_requires + extras["sim"])
    # acme2certifier (GPL, run as a process of its own) only for those who run that CA.
    ca_needed = distributions_imported_by([ACME_CA]) - needed
    assert names("acme-ca") == ca_needed - installed_anyway
    # The project's own tests run all of them.
    assert "certbot-dns-variomedia[sim,acme-ca]" in extras["test"]


def test_install_messages_name_the_sim_extra() -> None:
    stale = [
        str(path.relative_to(REPO))
        for path in TESTING.rglob("*.py")
        if "certbot-dns-variomedia[test]" in path.read_text()
    ]
    assert not stale, f"tell users to install [sim] for the simulators: {stale}"


# -- the wheel with [sim], in a venv with nothing else -------------------------------------------


def wheel_requirements(wheel: Path, extra: str) -> list[str]:
    """The wheel's requirements for an install with `extra`, markers resolved."""
    meta = dist.wheel_metadata(wheel, "METADATA")
    wanted = []
    for line in meta.splitlines():
        if line.startswith("Requires-Dist: "):
            requirement = Requirement(line.removeprefix("Requires-Dist: "))
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in ("", extra)):
                requirement.marker = None
                wanted.append(str(requirement))
    return wanted


@pytest.fixture(scope="module")
def sim_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``wheel[sim]`` and only the distributions that install brings."""
    built = dist.build(tmp_path_factory.mktemp("build"))
    requirements = wheel_requirements(built.wheel, "sim")
    assert any(Requirement(r).name == "aiosmtpd" for r in requirements), requirements
    venv = dist.create_venv(tmp_path_factory.mktemp("sim") / "venv")
    result = dist.pip_install(venv, f"{built.wheel}[sim]")
    assert result.returncode == 0, result.stdout + result.stderr
    layer = dist.requirement_layer(tmp_path_factory.mktemp("layer"), requirements)
    dist.add_dependencies(venv, layer)
    return venv


@pytest.mark.e2e
def test_the_wheel_with_sim_runs_the_simulators_offline(sim_venv: Path) -> None:
    python = str(sim_venv / "bin" / "python")
    assert dist.imported_from(sim_venv).is_relative_to(sim_venv)
    # Nothing of the test extra came along, so what runs below needs only [sim].
    absent = dist.run([python, "-c", "import pytest"], timeout=60)
    assert absent.returncode == 1, absent.stdout + absent.stderr
    assert "No module named 'pytest'" in absent.stderr

    every_module = (
        "import pkgutil, importlib, certbot_dns_variomedia.testing as t\n"
        "for m in pkgutil.walk_packages(t.__path__, t.__name__ + '.'):\n"
        "    if not m.name.endswith('.__main__'):  # those serve until stopped\n"
        "        importlib.import_module(m.name)\n"
    )
    imported = dist.run([python, "-c", every_module], timeout=120)
    assert imported.returncode == 0, imported.stderr

    # DNS, the STARTTLS gateway (aiosmtpd), HTTPS and the Control Panel simulator, audited.
    demo = dist.run(
        [python, "-m", "certbot_dns_variomedia.testing.demo.cp_audit_demo"], timeout=120
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Verdict: OK (exit 0)" in demo.stdout

    simulator = Served.start(
        [python, "-m", "certbot_dns_variomedia.testing.variomedia"],
        ready="Ctrl-C stops the simulator.",
    )
    status = simulator.stop(signal.SIGTERM)
    assert status == 0, simulator.output
    assert json.loads(simulator.lines[0])["url"].startswith("http://127.0.0.1:")
