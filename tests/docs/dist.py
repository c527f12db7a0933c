"""The built packages, and fresh virtualenvs with the wheel installed, without the network.

Users install ``certbot-dns-variomedia`` from a package index into a fresh environment. The tests
do the same with the wheel built from this checkout, offline:

* the sdist and wheel are built once per test session with ``python -m build --no-isolation``
  (the project virtualenv's setuptools and wheel instead of downloading them), from a copy of
  the files git tracks or would track, so a file missing from git is missing from the test too;
* a fresh venv is created without pip (the running pip installs into it with ``--python``);
* the wheel goes in with ``--no-index --no-deps``, and the dependencies (certbot, acme,
  dnspython, ...) come from the project virtualenv through a ``.pth`` file naming a *dependency
  layer*: a directory of symlinks to everything in the running site-packages except this
  project itself. So the fresh venv imports this project from the wheel, and only from there.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PROJECT = "certbot_dns_variomedia"
BUILD_TIMEOUT = 120.0
PIP_TIMEOUT = 120.0


@dataclass(frozen=True)
class Dist:
    """What ``python -m build`` produced, and what it printed."""

    sdist: Path
    wheel: Path
    log: str


_built: Dist | None = None
_layer: Path | None = None


def run(
    argv: list[str], *, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A bounded subprocess whose output is kept for the failure message."""
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def source_files() -> list[str]:
    """The files a release is made from: tracked ones, and new ones git does not ignore."""
    listed = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    return [name for name in listed.stdout.split("\0") if name and (REPO / name).is_file()]


def build(base: Path) -> Dist:
    """The sdist and wheel of this checkout, built once per session under `base`."""
    global _built  # noqa: PLW0603 - one build per session, shared by the packaging and doc tests
    if _built is not None and _built.wheel.exists():
        return _built
    src, out = base / "src", base / "dist"
    for name in source_files():
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    result = run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1, sdists
    assert len(wheels) == 1, wheels
    _built = Dist(sdists[0], wheels[0], result.stdout + result.stderr)
    return _built


def dependency_layer(base: Path) -> Path:
    """Symlinks to the running environment's packages, without this project (made once)."""
    global _layer  # noqa: PLW0603 - the same layer serves every fresh venv of the session
    if _layer is not None and _layer.exists():
        return _layer
    layer = base / "dependency-layer"
    layer.mkdir(parents=True)
    sites = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    for site in sites:
        for entry in site.iterdir():
            name = entry.name
            if (
                name.startswith((PROJECT, "__editable__", "__pycache__"))
                or name.endswith(".pth")
                or (layer / name).exists()
            ):
                continue
            (layer / name).symlink_to(entry)
    _layer = layer
    return layer


def requirement_closure(requirements: Iterable[str]) -> set[str]:
    """The installed distributions `requirements` need, transitively, as canonical names.
    Markers are evaluated for this Python, with the extras each requirement asks for."""
    found: set[tuple[str, str]] = set()
    todo = [(Requirement(text), "") for text in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        for wanted in {"", *requirement.extras} - {e for n, e in found if n == name}:
            found.add((name, wanted))
            for text in importlib.metadata.distribution(name).requires or []:
                todo.append((Requirement(text), wanted))
    return {name for name, _ in found}


def requirement_layer(base: Path, requirements: Iterable[str]) -> Path:
    """Like `dependency_layer`, but with only the distributions `requirements` need: a fresh
    venv then imports what a user's install of them would have, and nothing else."""
    layer = base / "requirement-layer"
    layer.mkdir(parents=True)
    for name in sorted(requirement_closure(requirements) - {canonicalize_name(PROJECT)}):
        distribution = importlib.metadata.distribution(name)
        tops = {f.parts[0] for f in distribution.files or [] if f.parts[0] not in ("..", "")}
        for top in sorted(tops - {"__pycache__"}):
            source = Path(str(distribution.locate_file(top)))
            if source.exists() and not (layer / top).exists() and not top.endswith(".pth"):
                (layer / top).symlink_to(source)
    return layer


def site_packages(venv: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return venv / "lib" / version / "site-packages"


def create_venv(venv: Path) -> Path:
    """An empty virtualenv of the running Python, without pip (see `pip_install`)."""
    result = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=60)
    assert result.returncode == 0, result.stderr
    return venv


def add_dependencies(venv: Path, layer: Path) -> None:
    """Make the dependency layer importable in `venv`, after its own site-packages."""
    (site_packages(venv) / "_test_dependency_layer.pth").write_text(f"{layer}\n")


def write_console_script(venv: Path, name: str, module: str, function: str = "main") -> Path:
    """The launcher pip writes for an entry point (here for certbot, which comes from the
    dependency layer rather than a pip install into `venv`)."""
    path = venv / "bin" / name
    path.write_text(
        f"#!{venv / 'bin' / 'python'}\n"
        "import sys\n"
        f"from {module} import {function}\n"
        f"sys.exit({function}())\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def pip_install(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The running pip, installing into `venv` from local files only."""
    argv = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(venv / "bin" / "python"),
        "--disable-pip-version-check",
        "--no-input",
        "install",
        "--no-index",
        "--no-deps",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return run(argv, timeout=PIP_TIMEOUT, env=env)


def wheel_metadata(wheel: Path, member: str) -> str:
    """One file of the wheel's ``.dist-info`` directory, as text."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith(f".dist-info/{member}")]
        assert len(names) == 1, (member, archive.namelist())
        return archive.read(names[0]).decode("utf-8")


def imported_from(venv: Path, module: str = PROJECT) -> Path:
    """Where `venv`'s Python finds `module`: proves the wheel, not the checkout, is used."""
    result = run(
        [str(venv / "bin" / "python"), "-c", f"import {module}; print({module}.__file__)"],
        timeout=60,
        cwd=venv,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())
