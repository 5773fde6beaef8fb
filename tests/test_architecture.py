"""The layering rules of DEVELOPERS.md and docs/architecture.md, checked: a pure core, presentation only in
render/, adapters grouped by feature with imports pointing one way, no import cycle, and a fast start-up."""

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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _runtime_imports(path: Path) -> set[str]:
    """The netdiag modules ``path`` imports when it runs (top level or inside functions), resolved to the
    module (``from netdiag.x import y`` is ``netdiag.x.y`` when that is a module); imports under
    ``if TYPE_CHECKING:`` never run and are left out."""
    name = _module_name(path)
    tree = ast.parse(path.read_text())
    typing_only = {id(inner) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for inner in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module)
    return {module for module in found if module in MODULES and module != name}


def _unit(module: str) -> str:
    """The architectural unit of a module: ``core``, ``render``, ``cli``, or ``adapters.FEATURE``."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "adapters":
        return "adapters." + parts[2]
    return parts[1] if len(parts) > 1 else "netdiag"


ADAPTER_DEPENDENCIES: dict[str, set[str]] = {
    "adapters.platform": set(),
    "adapters.net": {"adapters.platform"},
    "adapters.listing": {"adapters.platform"},
    "adapters.servers": {"adapters.platform", "adapters.net"},
    "adapters.web": set(),
    "adapters.doctor": {"adapters.platform"},
    "adapters.probing": {"adapters.platform", "adapters.listing", "adapters.net"},
    "adapters.capture": {"adapters.platform", "adapters.listing", "adapters.net"},
    "adapters.explain": {"adapters.platform", "adapters.listing", "adapters.net", "adapters.probing"},
    "adapters.client": {"adapters.platform", "adapters.net", "adapters.explain"},
    "adapters.load": {"adapters.platform", "adapters.listing", "adapters.net", "adapters.probing"},
    "adapters.tour": {"adapters.platform", "adapters.listing", "adapters.probing", "adapters.capture"},
}
"""Which adapter features each feature may use (docs/architecture.md draws it): the building blocks
(platform, net, listing) use nothing else, the composers (explain, load, tour) use the blocks, and no
feature reaches back up. Every adapter may use core; none may use render or cli."""


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


def test_every_adapter_module_belongs_to_a_declared_feature() -> None:
    units = {_unit(m) for m in MODULES if m.startswith("netdiag.adapters.")}
    assert units == set(ADAPTER_DEPENDENCIES), "declare the new feature in ADAPTER_DEPENDENCIES and the doc"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("netdiag.adapters.")))
def test_adapters_import_only_core_and_the_features_they_build_on(module: str) -> None:
    unit = _unit(module)
    allowed = {unit, "core", "netdiag", "adapters"} | ADAPTER_DEPENDENCIES[unit]
    for imported in _runtime_imports(MODULES[module]) | {
            m for m in _imported_modules(MODULES[module]) if m.startswith("netdiag.")}:
        if imported == "netdiag.adapters":  # `from netdiag.adapters import platform`
            continue
        assert _unit(imported) in allowed, f"{module} (feature {unit}) imports {imported}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "render").rglob("*.py")), ids=lambda p: p.name)
def test_render_imports_only_core_render_and_presentation_libraries(path: Path) -> None:
    for name in _imported_modules(path):
        top = name.split(".")[0]
        if top == "netdiag":
            assert name.startswith(("netdiag.core", "netdiag.render")), f"{path.name} imports {name}"
        else:
            assert top in sys.stdlib_module_names or top in ("__future__", "tabulate"), \
                f"{path.name} imports {name}"


def test_scapy_is_imported_only_by_the_capture_feature() -> None:
    for module, path in MODULES.items():
        if _unit(module) != "adapters.capture":
            assert not any(n.split(".")[0] == "scapy" for n in _imported_modules(path)), module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` that hold more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_there_is_no_import_cycle() -> None:
    """Not even through imports inside functions: a lazy import is still a cycle in the design."""
    assert _cycles({module: _runtime_imports(path) for module, path in MODULES.items()}) == []


def test_the_import_cycle_check_can_fail() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    half_open = MODULES["netdiag.adapters.probing.half_open"]  # imports the workers inside a function
    assert "netdiag.adapters.probing.workers" in _runtime_imports(half_open)


LONG_MODULE = 430
"""Lines above which a module must say in its docstring why it is one module (DEVELOPERS.md: ~400)."""


@pytest.mark.parametrize("module", sorted(MODULES))
def test_long_modules_say_why_they_are_long(module: str) -> None:
    path = MODULES[module]
    lines = len(path.read_text().splitlines())
    if lines <= LONG_MODULE:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert "400 lines" in docstring, f"{module} has {lines} lines and its docstring does not say why"


@pytest.mark.parametrize("package", sorted(p for p in (PACKAGE / "adapters").iterdir()
                                           if (p / "__init__.py").exists()), ids=lambda p: p.name)
def test_feature_packages_name_their_front_module(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    assert docstring, f"adapters/{package.name}/__init__.py needs a docstring that names its front"


def test_the_architecture_page_maps_every_folder_and_adapter_feature() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    folders = {p.relative_to(PACKAGE.parent).as_posix() + "/" for p in PACKAGE.rglob("*")
               if p.is_dir() and p.name != "__pycache__"}
    features = {f"netdiag/adapters/{p.name}" for p in (PACKAGE / "adapters").glob("*.py")
                if p.name != "__init__.py"}
    missing = sorted(name for name in folders | features if name not in page)
    assert missing == [], f"docs/architecture.md does not mention {missing}"
