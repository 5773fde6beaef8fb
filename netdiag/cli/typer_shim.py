"""Every part of typer's private API netdiag relies on, in one place (tests/cli/test_typer_shim.py checks it).

typer 0.29 vendors click as ``typer._click`` and coerces parameter values through a private per-parameter
object (``_TyperParameter._runtime_param``, an object with ``coerce(value, param, ctx)``), built lazily with
pydantic. netdiag uses both: click's ``Context``/``Parameter`` types and exceptions for its commands' classes
and its error boundary, and the coercion hook to skip pydantic at start-up (``netdiag.cli.plain_coercion``).
A typer release may rename or reshape any of it without notice; when it does, the shim's tests fail with
the name or behaviour that changed, and this module is the only one to adapt.

Importing it costs nothing at start-up: typer itself has already imported every module named here.
"""

from __future__ import annotations

from typing import Any

from typer._click import Context, Parameter
from typer._click.exceptions import BadParameter, ClickException
from typer.core import TyperCommand, TyperGroup
from typer.core import _TyperParameter as TyperParameter

__all__ = ["BadParameter", "ClickException", "Context", "Parameter", "TyperCommand", "TyperGroup",
           "TyperParameter", "annotation_of", "coercion_of", "parameter_info_of", "set_coercion"]


def annotation_of(param: TyperParameter) -> Any:
    """The parameter's Python annotation (``int``, ``str | None``, ``list[str]``, an enum)."""
    return param.type_descriptor.annotation


def parameter_info_of(param: TyperParameter) -> Any:
    """typer's ``ParameterInfo`` of the parameter: ``parser``, ``min``, ``max`` are what netdiag reads."""
    return param.type_descriptor.parameter_info


def coercion_of(param: TyperParameter) -> Any:
    """The object typer will call ``coerce(value, param=..., ctx=...)`` on; None until typer builds it."""
    return param._runtime_param


def set_coercion(param: TyperParameter, coercion: Any) -> None:
    """Make typer coerce ``param``'s values with ``coercion`` (instead of building its pydantic one)."""
    param._runtime_param = coercion
