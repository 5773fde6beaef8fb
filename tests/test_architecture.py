"""The layering rules of DEVELOPERS.md, checked: a pure core, and a fast start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "netdiag"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").rglob("*.py")), ids=lambda p: p.name)
def test_core_imports_only_stdlib_and_core(path: Path) -> None:
    for name in _imported_modules(path):
        top = name.split(".")[0]
        if top == "netdiag":
            assert name.startswith("netdiag.core"), f"{path.name} imports {name}"
        else:
            assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {name}"


@pytest.mark.parametrize("layer", ["adapters", "render", "core"])
def test_inner_layers_never_import_cli(layer: str) -> None:
    for path in (PACKAGE / layer).rglob("*.py"):
        assert not any(n.startswith("netdiag.cli") for n in _imported_modules(path)), path


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_startup_loads_neither_scapy_nor_psutil(args: list[str]) -> None:
    probe = (
        f"import sys; from netdiag.cli.main import main; code = main({args!r}); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('scapy', 'psutil', 'tabulate')); "
        "print(heavy); sys.exit(code)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
