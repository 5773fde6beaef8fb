"""A plain text table, laid out exactly as ``tabulate(..., tablefmt="plain", disable_numparse=True)``.

Why not tabulate itself: importing it costs ~40 ms, a third of a whole ``netdiag probe 127.0.0.1:80``
(bench/probe_startup.py), and a table of short single-line cells needs none of its generality. The layout
is tabulate's, so ``probe`` looks like every other netdiag table: columns two spaces apart, each at least
as wide as its header plus two, cells left-aligned, trailing blanks stripped. Widths ignore colour
escapes. tests/render/test_plain_table.py checks the output against tabulate's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_SEPARATOR = "  "
_HEADER_PADDING = 2  # tabulate's MIN_PADDING: a column is at least its header plus two


def visible_width(text: str) -> int:
    """How many columns ``text`` takes on a terminal (colour escapes take none)."""
    return len(_COLOUR.sub("", text)) if "\x1b" in text else len(text)


def plain_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """``rows`` under ``headers``, one line each; ``None`` cells must be replaced by the caller."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(header) + _HEADER_PADDING for header in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], visible_width(cell))
    lines = [_line(list(headers), widths)]
    lines.extend(_line(row, widths) for row in cells)
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = (cell + " " * (width - visible_width(cell)) for cell, width in zip(cells, widths, strict=True))
    return _SEPARATOR.join(padded).rstrip()
