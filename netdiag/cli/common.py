"""What every command module shares: the ``Output`` of this process and the common options."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from netdiag.render.output import Output

_state: dict[str, Output] = {}


def configure_output(*, no_color: bool) -> Output:
    """Called once by the root callback; every command then gets the same ``Output``."""
    _state["output"] = Output(no_color=no_color)
    return _state["output"]


def output() -> Output:
    """The process's ``Output`` (a default one when a command runs without the root callback)."""
    if "output" not in _state:
        configure_output(no_color=False)
    return _state["output"]


class OutputFormat(str, Enum):
    """``--format`` values for commands that list or report."""

    table = "table"
    json = "json"
    csv = "csv"


class ReportFormat(str, Enum):
    """``--format`` values for commands that report one thing (no CSV)."""

    text = "text"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format: table, json or csv.")
]
ReportFormatOption = Annotated[
    ReportFormat, typer.Option("--format", "-f", help="Output format: text or json.")
]


def examples(*lines: str) -> str:
    """An epilog of examples, the last thing every command's help shows."""
    body = "\n\n".join(f"  {line}" for line in lines)
    return f"Examples:\n\n{body}"
