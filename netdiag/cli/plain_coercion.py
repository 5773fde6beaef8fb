"""Typer parameters coerced with plain Python instead of pydantic: ~150 ms less start-up per command.

typer 0.29 converts every non-flag parameter value with a pydantic ``TypeAdapter``, so any command with a
string, number or choice option imports pydantic (measured with ``python -X importtime``: typer._adapters
160 ms of a ~400 ms ``netdiag probe``). Commands whose parameters are only ``str``, ``int``, ``float``,
``str`` enums, ``list[str]`` and ``X | None`` of those can use ``PlainCoercionCommand`` as their click
class: the same values and the same click error messages, without pydantic. Any other annotation falls
back to typer's own coercion, so a new parameter type is never silently mis-parsed.
"""

from __future__ import annotations

import math
import types
import typing
from enum import Enum
from typing import Any

from netdiag.cli.typer_shim import (
    BadParameter,
    Context,
    Parameter,
    TyperCommand,
    TyperParameter,
    annotation_of,
    coercion_of,
    parameter_info_of,
    set_coercion,
)

_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
             "off": False}

MAX_NUMBER_CHARS = 100
"""Longer option values are refused before conversion (no option needs a 100-character number)."""


class PlainCoercion:
    """The ``RuntimeParam`` interface typer calls (``coerce``), for simple annotations."""

    def __init__(self, kind: type, *, is_list: bool, low: float | None, high: float | None) -> None:
        self.kind = kind
        self.is_list = is_list
        self.low = low
        self.high = high

    def coerce(self, value: Any, param: TyperParameter, ctx: Context) -> Any:
        if value is None:
            return () if (param.multiple or param.nargs == -1) else None
        if self.is_list:
            if isinstance(value, str):
                raise BadParameter("Value must be an iterable.", ctx=ctx, param=param)
            return [self._one(item, param, ctx) for item in value]
        return self._one(value, param, ctx)

    def _one(self, value: Any, param: TyperParameter, ctx: Context) -> Any:
        kind: Any = self.kind
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            converted = value
        elif kind is bool:
            text = str(value).strip().lower()
            if text not in _BOOLEANS:
                raise BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx, param=param)
            converted = _BOOLEANS[text]
        elif issubclass(kind, Enum):
            choices = [member.value for member in kind]
            if value not in choices:
                listed = ", ".join(repr(c) for c in choices)
                raise BadParameter(f"{value!r} is not one of {listed}.", ctx=ctx, param=param)
            converted = kind(value)
        else:
            noun = {int: "integer", float: "float"}.get(kind, kind.__name__)
            if kind in (int, float) and len(str(value)) > MAX_NUMBER_CHARS:
                # int() refuses more than 4,300 digits (ValueError), and no option wants such a number
                shown = f"{str(value)[:20]}... ({len(str(value)):,} characters)"
                raise BadParameter(f"{shown} is too long to be a valid {noun}.", ctx=ctx, param=param)
            try:
                converted = kind(value)
            except ValueError:
                raise BadParameter(f"{value!r} is not a valid {noun}.", ctx=ctx, param=param) from None
            if kind is float and not math.isfinite(converted):  # nan passes every range check; inf
                raise BadParameter(f"{value!r} is not a finite number.", ctx=ctx, param=param)
        too_low = self.low is not None and converted < self.low
        if too_low or (self.high is not None and converted > self.high):
            raise BadParameter(f"{converted} is not in the range {self._range()}.", ctx=ctx, param=param)
        return converted

    def _range(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low}<=x<={self.high}"
        return f"x>={self.low}" if self.low is not None else f"x<={self.high}"


def plain_coercion_for(param: TyperParameter) -> PlainCoercion | None:
    """A ``PlainCoercion`` when the parameter's annotation is simple enough, else None."""
    annotation: Any = annotation_of(param)
    info = parameter_info_of(param)
    if info.parser is not None:
        return None
    is_list = typing.get_origin(annotation) is list
    if is_list:
        (annotation,) = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) != 1:
            return None
        annotation = options[0]
    is_str_enum = isinstance(annotation, type) and issubclass(annotation, Enum) \
        and issubclass(annotation, str)
    simple = annotation in (str, int, float, bool) or is_str_enum
    if not simple:
        return None
    if annotation is str and (info.min is not None or info.max is not None):
        return None
    return PlainCoercion(annotation, is_list=is_list, low=info.min, high=info.max)


def with_plain_coercion(params: list[Parameter]) -> list[Parameter]:
    """``params``, each simple one given plain coercion (the others keep typer's); for ``get_params``,
    which is where click adds the ``--help`` option, itself a typer parameter."""
    for param in params:
        if isinstance(param, TyperParameter) and coercion_of(param) is None:
            coercion = plain_coercion_for(param)
            if coercion is not None:
                set_coercion(param, coercion)
    return params


class PlainCoercionCommand(TyperCommand):
    """A typer command whose simple parameters skip pydantic (see the module docstring)."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return with_plain_coercion(super().get_params(ctx))
