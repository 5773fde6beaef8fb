"""What netdiag.cli.typer_shim relies on in typer's private API, checked against the installed typer.

When a typer release renames or reshapes any of it, one of these fails and names what changed: adapt the
shim (and only it), then these tests.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command

from netdiag.cli import typer_shim
from netdiag.cli.typer_shim import (
    BadParameter,
    ClickException,
    Context,
    Parameter,
    TyperCommand,
    TyperGroup,
    TyperParameter,
    annotation_of,
    coercion_of,
    parameter_info_of,
    set_coercion,
)

pytestmark = pytest.mark.portable

ROOT = Path(__file__).resolve().parents[2]
SHIM = ROOT / "netdiag" / "cli" / "typer_shim.py"
# Private parts of typer: its vendored click and its internal modules, and the attributes the shim wraps.
PRIVATE_MODULES = ("typer._", "typer.core", "typer.models", "click")
PRIVATE_ATTRIBUTES = frozenset({"_runtime_param", "type_descriptor", "_TyperParameter"})


def _changed(what: str) -> str:
    return f"typer {typer.__version__} changed {what}: adapt netdiag/cli/typer_shim.py"


def small_app() -> typer.Typer:
    app = typer.Typer()

    @app.command(cls=TyperCommand)
    def count(number: int = typer.Option(1, "--number", min=0, max=9), name: str | None = None) -> None:
        print(f"{number!r} {name!r}")

    return app


def typer_params(command: Any) -> dict[str, TyperParameter]:
    """The command's own parameters, before any parsing (which builds typer's coercion)."""
    return {p.name: p for p in command.params if isinstance(p, TyperParameter)}


def test_the_names_exist_with_the_kinds_the_shim_expects() -> None:
    for name in typer_shim.__all__:
        assert hasattr(typer_shim, name), name
    assert issubclass(TyperParameter, Parameter), _changed("_TyperParameter's base (click's Parameter)")
    assert issubclass(BadParameter, ClickException), _changed("BadParameter's base")
    assert "commands" in inspect.signature(TyperGroup).parameters, \
        _changed("TyperGroup(commands=...)")  # NetdiagGroup replaces self.commands
    assert {"parse_args", "get_params"} <= set(dir(TyperCommand)), _changed("TyperCommand's methods")
    assert {"list_commands", "format_commands", "get_params"} <= set(dir(TyperGroup)), \
        _changed("TyperGroup's methods")
    assert inspect.isclass(Context) and "resilient_parsing" in inspect.signature(Context).parameters, \
        _changed("click's Context")


def test_the_coercion_hook_has_the_shape_the_shim_expects() -> None:
    """typer builds ``_runtime_param`` lazily and calls ``coerce(value, param=..., ctx=...)`` on it."""
    from typer._coercion import RuntimeParam

    assert list(inspect.signature(RuntimeParam.coerce).parameters) == ["self", "value", "param", "ctx"], \
        _changed("RuntimeParam.coerce(value, param, ctx)")
    assert "_runtime_param" in TyperParameter.__annotations__, _changed("_TyperParameter._runtime_param")
    assert "type_descriptor" in TyperParameter.__annotations__, _changed("_TyperParameter.type_descriptor")
    source = inspect.getsource(TyperParameter.process_value)
    assert "get_runtime_param().coerce(value, param=self, ctx=ctx)" in source, \
        _changed("how _TyperParameter.process_value coerces")


def test_annotation_and_parameter_info_are_read() -> None:
    params = typer_params(get_command(small_app()))
    assert annotation_of(params["number"]) is int
    assert annotation_of(params["name"]) in (str, str | None)  # typer 0.29 unwraps Optional; both are read
    info = parameter_info_of(params["number"])
    assert (info.parser, info.min, info.max) == (None, 0, 9)


def test_a_coercion_set_through_the_shim_is_the_one_typer_calls(capsys: pytest.CaptureFixture[str]) -> None:
    command = get_command(small_app())
    calls: list[tuple[Any, str, bool]] = []

    class Doubling:
        def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
            calls.append((value, param.name, isinstance(ctx, Context)))
            return None if value is None else int(value) * 2

    number = typer_params(command)["number"]
    assert coercion_of(number) is None  # typer builds its own only when a value comes
    set_coercion(number, Doubling())
    command.main(["--number", "4"], standalone_mode=False)
    assert capsys.readouterr().out == "8 None\n"
    assert calls == [("4", "number", True)]


def test_typer_builds_its_own_coercion_when_none_is_set() -> None:
    command = get_command(small_app())
    number = typer_params(command)["number"]
    assert coercion_of(number) is None
    ctx = Context(command)
    assert number.process_value(ctx, "3") == 3
    assert coercion_of(number) is not None


def test_a_bad_value_is_a_click_exception_with_exit_code_2() -> None:
    with pytest.raises(ClickException) as raised:
        get_command(small_app()).main(["--number", "12"], standalone_mode=False)
    assert raised.value.exit_code == 2


def _private_uses(path: Path) -> list[str]:
    """Imports of typer's private modules (or click's) and uses of the attributes the shim wraps."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            names = [node.attr]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names
                  if name in PRIVATE_ATTRIBUTES or name.startswith(PRIVATE_MODULES)]
    return found


def test_only_the_shim_reaches_into_typer() -> None:
    """Everything else imports typer's private parts from the shim, so a typer upgrade is adapted there."""
    sources = [p for folder in ("netdiag", "scripts", "bench", "tests") for p in (ROOT / folder).rglob("*.py")
               if p not in (SHIM, Path(__file__).resolve())]
    assert sources
    stragglers = [use for path in sources for use in _private_uses(path)]
    assert stragglers == [], "import these from netdiag.cli.typer_shim (add them there if missing)"
