"""The GitHub Actions workflows parse and say what they promise (checked offline with check-jsonschema)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.portable
ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=60)


def _check_jsonschema() -> str:
    beside = Path(sys.executable).parent / ("check-jsonschema" + (".exe" if sys.platform == "win32" else ""))
    found = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    if found is None:
        pytest.skip("check-jsonschema is not installed (a test extra: pip install -e '.[test]')")
    return found


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(workflow: Path) -> None:
    result = _validate(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    result = _validate(broken)
    assert result.returncode != 0


def test_the_portable_workflow_covers_three_systems_and_two_pythons() -> None:
    text = (ROOT / ".github" / "workflows" / "portable.yml").read_text()
    assert "os: [ubuntu-latest, macos-latest, windows-latest]" in text
    assert 'python: ["3.10", "3.x"]' in text
    assert "pytest -m portable" in text


def test_the_portable_subset_is_not_empty() -> None:
    portable_paths = ROOT / "tests" / "adapters" / "test_portable_paths.py"
    result = subprocess.run([sys.executable, "-m", "pytest", "-m", "portable", "--collect-only", "-q",
                             "-p", "no:cacheprovider", str(portable_paths)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_the_portable_scanner_waits_on_selectors" in result.stdout
