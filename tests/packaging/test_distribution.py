"""The sdist and wheel as PyPI would get them: built from a copy of the tree, checked, installed, run.

The wheel is built from the sdist (``python -m build`` does that), so a file the sdist forgets breaks the
build here rather than on a user's machine. The fresh venv gets netdiag's runtime dependencies only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".venv", ".git", "site", "build", "dist", "*.egg-info", "__pycache__",
                              ".*_cache", ".hypothesis", "bench", "tests", "docs")


def _run(*argv: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("dist")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)
    built = _run(sys.executable, "-m", "build", "--outdir", base / "out", source)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return base / "out"


def _one(dist: Path, pattern: str) -> Path:
    [found] = dist.glob(pattern)
    return found


def test_sdist_carries_the_package_and_its_metadata_but_no_tests(dist: Path) -> None:
    with tarfile.open(_one(dist, "netdiag_lab-*.tar.gz")) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "LICENSE", "PYPI.md", "netdiag/py.typed", "netdiag/cli/main.py"} <= names
    assert not any(name.startswith("tests/") for name in names)


def test_wheel_names_the_distribution_the_command_and_the_licence(dist: Path) -> None:
    with zipfile.ZipFile(_one(dist, "netdiag_lab-*.whl")) as wheel:
        names = set(wheel.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "netdiag/py.typed" in names and f"{info}/licenses/LICENSE" in names
    assert "Name: netdiag-lab" in metadata and "License-Expression: MIT" in metadata
    assert "Classifier: Intended Audience :: Education" in metadata
    assert "pipx install netdiag-lab" in metadata  # the long description opens with the install
    assert "netdiag = netdiag.cli.main:run" in entry_points


def test_twine_accepts_both_files(dist: Path) -> None:
    checked = _run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2


def test_wheel_installs_into_a_fresh_venv_and_runs(dist: Path, tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=True)
    bindir = tmp_path / "venv" / "bin"
    installed = _run(bindir / "python", "-m", "pip", "install", "--quiet", _one(dist, "netdiag_lab-*.whl"))
    assert installed.returncode == 0, installed.stderr[-3000:]
    packages = _run(bindir / "python", "-m", "pip", "list", "--format", "freeze").stdout.lower()
    assert "netdiag-lab==" in packages and "pytest" not in packages  # runtime dependencies only

    version = _run(bindir / "netdiag", "--version")
    assert version.returncode == 0 and version.stdout.startswith("netdiag "), version.stderr
    listing = _run(bindir / "netdiag", "sockets", "--listening", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    explained = _run(bindir / "netdiag", "explain", "--error",
                     "ConnectionRefusedError: [Errno 111] Connection refused")
    assert explained.returncode == 0, explained.stderr
    assert "refused" in explained.stdout.lower()
