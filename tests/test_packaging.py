"""The release artefacts: ``python -m build`` makes an sdist and a wheel that PyPI would take,
and the wheel, installed into a fresh virtualenv, is a certbot plugin with its commands.

Built once per session (`docs.dist`), offline: ``--no-isolation`` uses the project
virtualenv's setuptools and wheel, and the fresh venv gets the wheel with ``--no-index
--no-deps`` and its dependencies from the project virtualenv (a ``.pth`` file naming a
directory of symlinks to them, without this project). So nothing is downloaded, and the
project is imported from the wheel only.
"""

from __future__ import annotations

import email.parser
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from certbot_dns_variomedia import __version__
from docs import dist

REPO = dist.REPO
ENTRY_POINTS = {
    "certbot.plugins": {"dns-variomedia": "certbot_dns_variomedia.plugin:Authenticator"},
    "console_scripts": {
        "variomedia-dns": "certbot_dns_variomedia.cli:main",
        "cp-audit": "certbot_dns_variomedia.controlpanel.cli:main",
        "variomedia-sandbox": "certbot_dns_variomedia.testing.demo.command:main",
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dist.Dist:
    return dist.build(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, built: dist.Dist) -> Path:
    """A fresh venv with the wheel (and, as pip would, certbot's console script)."""
    venv = dist.create_venv(tmp_path_factory.mktemp("fresh") / "venv")
    result = dist.pip_install(venv, str(built.wheel))
    assert result.returncode == 0, result.stdout + result.stderr
    layer = dist.dependency_layer(tmp_path_factory.mktemp("layer"))
    dist.add_dependencies(venv, layer)
    dist.write_console_script(venv, "certbot", "certbot.main")
    return venv


def metadata(wheel: Path) -> email.message.Message:
    return email.parser.Parser().parsestr(dist.wheel_metadata(wheel, "METADATA"))


def test_build_makes_an_sdist_and_a_wheel_of_the_one_version(built: dist.Dist) -> None:
    # setuptools 69 and later write the normalized name (PEP 625), earlier ones the project's.
    sdist_names = {
        f"{name}-{__version__}.tar.gz"
        for name in ("certbot_dns_variomedia", "certbot-dns-variomedia")
    }
    assert built.sdist.name in sdist_names
    assert built.wheel.name == f"certbot_dns_variomedia-{__version__}-py3-none-any.whl"
    assert metadata(built.wheel)["Version"] == __version__
    # The version is written in one place only.
    assert "version = attr: certbot_dns_variomedia.__version__" in (REPO / "setup.cfg").read_text()
    definitions = [
        str(p.relative_to(REPO))
        for p in (REPO / "certbot_dns_variomedia").rglob("*.py")
        if re.search(r"^__version__\s*=", p.read_text(), re.MULTILINE)
    ]
    assert definitions == ["certbot_dns_variomedia/__init__.py"]


def test_twine_check_passes(built: dist.Dist) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(built.sdist), str(built.wheel)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_wheel_metadata_describes_the_project(built: dist.Dist) -> None:
    meta = metadata(built.wheel)
    assert meta["Name"] == "certbot-dns-variomedia"
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["License"] == "Apache-2.0"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload() == (REPO / "README.md").read_text()
    requires = meta.get_all("Requires-Dist") or []
    for requirement in ("certbot>=1.21.0", "acme>=1.21.0", "dnspython>=2.4.0"):
        assert any(r.replace(" ", "").startswith(requirement) for r in requires), requires
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Documentation", "Changelog", "Source", "Issues"} <= set(urls), urls
    classifiers = meta.get_all("Classifier") or []
    assert "Environment :: Plugins" in classifiers
    assert "Typing :: Typed" in classifiers


def test_wheel_carries_the_entry_points_license_and_type_marker(built: dist.Dist) -> None:
    entry_points = dist.wheel_metadata(built.wheel, "entry_points.txt")
    section = ""
    found: dict[str, dict[str, str]] = {}
    for line in entry_points.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line:
            name, _, target = line.partition("=")
            found.setdefault(section, {})[name.strip()] = target.strip()
    assert found == ENTRY_POINTS
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
    assert "certbot_dns_variomedia/py.typed" in names
    assert any(n.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in n for n in names)
    assert not [n for n in names if n.startswith(("tests/", "docs/", "examples/"))]


def test_sdist_carries_docs_examples_changelog_and_license(built: dist.Dist) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {
        "README.md",
        "CHANGELOG.md",
        "CONTRIBUTING.md",
        "LICENSE",
        "pyproject.toml",
        "setup.cfg",
        "docs/variomedia-dns.md",
        "docs/cp-audit.md",
        "examples/variomedia.ini",
        "examples/docker/Dockerfile",
        "certbot_dns_variomedia/__init__.py",
        "certbot_dns_variomedia/py.typed",
    }
    assert expected <= names, expected - names
    assert not [n for n in names if "__pycache__" in n]


def test_changelog_names_the_version(built: dist.Dist) -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    first = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert first, "no version heading"
    version = Version(__version__)
    assert first.group(1) in (__version__, version.base_version)
    if version.is_devrelease or version.is_prerelease:
        assert "unreleased" in changelog[first.start() : first.start() + 80]


@pytest.mark.e2e
def test_installed_wheel_is_a_certbot_plugin(installed: Path, tmp_path: Path) -> None:
    assert dist.imported_from(installed).is_relative_to(installed)
    result = dist.run(
        [
            str(installed / "bin/certbot"),
            "plugins",
            "--authenticators",
            "--config-dir",
            str(tmp_path / "config"),
            "--work-dir",
            str(tmp_path / "work"),
            "--logs-dir",
            str(tmp_path / "logs"),
        ],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "* dns-variomedia" in result.stdout
    assert "Variomedia for DNS" in result.stdout


def test_installed_wheel_brings_its_commands(installed: Path) -> None:
    version = dist.run([str(installed / "bin/variomedia-dns"), "--version"], timeout=60)
    assert version.stdout.strip() == f"variomedia-dns {__version__}"
    for command in ("cp-audit", "variomedia-sandbox"):
        result = dist.run([str(installed / "bin" / command), "--help"], timeout=60)
        assert result.returncode == 0, result.stderr
        assert "usage:" in result.stdout
