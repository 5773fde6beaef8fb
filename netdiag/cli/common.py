"""What every command module shares: the ``Output`` of this process, the common options, the examples epilog.

Conventions every command follows (tests/cli/test_conventions.py checks them):

- data (tables, JSON, CSV) goes to stdout through ``output().data``; messages, progress and diagnoses go to
  stderr through ``output().info`` / ``warn`` / ``error``;
- commands that list or report accept ``--format`` (``FormatOption`` or ``ReportFormatOption``);
- every command's help ends with examples made by ``examples(...)``; the first one is also shown next to
  the command in ``netdiag --help``;
- failures are raised as ``NetdiagError`` subclasses; ``netdiag.cli.main`` turns them into exit codes.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from netdiag.render.output import Output, prepare_streams

EXAMPLES_HEADING = "Examples:"

_state: dict[str, Output] = {}


def configure_output(*, no_color: bool) -> Output:
    """Called once by the root callback; every command then gets the same ``Output`` and streams that a
    character cannot break (``prepare_streams``)."""
    prepare_streams()
    _state["output"] = Output(no_color=no_color, shows_colour=_terminal_shows_colour)
    return _state["output"]


def _terminal_shows_colour(fileno: int) -> bool:
    from netdiag.adapters import platform  # only for a terminal: `netdiag --help | less` need not load it

    return platform.terminal_shows_colour(fileno)


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


class DrawingFormat(str, Enum):
    """``--format`` of commands that draw a connection: text or JSON, or the drawing for slides (SVG, or
    an HTML page holding it): ``handshake``, and ``explain --pcap``."""

    text = "text"
    json = "json"
    svg = "svg"
    html = "html"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format: table, json or csv.")
]
ReportFormatOption = Annotated[
    ReportFormat, typer.Option("--format", "-f", help="Output format: text or json.")
]


def examples(*lines: str) -> str:
    """An epilog of examples, the last thing every command's help shows.

    Each line is one command a user can paste, optionally followed by ``  # comment``. The ``\\b`` marker
    tells click not to re-wrap the block, so the examples keep one per line and their indentation.
    """
    body = "\n".join(f"  {line}" for line in lines)
    return f"{EXAMPLES_HEADING}\n\n\b\n{body}"


def example_lines(epilog: str | None) -> list[str]:
    """The example commands of an epilog made by ``examples`` (empty when there are none)."""
    if not epilog or EXAMPLES_HEADING not in epilog:
        return []
    block = epilog.split(EXAMPLES_HEADING, 1)[1]
    return [line.strip() for line in block.splitlines() if line.strip() and line.strip() != "\b"]


def example_command(example: str) -> str:
    """The command part of an example line: without its ``# comment``."""
    return example.split("  #", 1)[0].strip()


def runs_command(example: str, name: str) -> bool:
    """Whether an example line runs ``netdiag NAME`` (possibly under sudo), not a helper command."""
    words = example_command(example).split()
    if words[:1] == ["sudo"]:
        words = words[1:]
    return words[:2] == ["netdiag", name]


def first_example(name: str, epilog: str | None) -> str | None:
    """The first example that runs ``netdiag NAME`` itself: the one ``netdiag --help`` shows."""
    return next((line for line in example_lines(epilog) if runs_command(line, name)), None)
