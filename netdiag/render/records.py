"""Lists of records as a table (tabulate), JSON or CSV: the one place output formats are made.

Records are plain dicts whose keys are the documented JSON field names; enum values are written as their
``.value`` so the table, the JSON and the docs use the same words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Literal

Format = Literal["table", "json", "csv"]


_SCALARS = frozenset({str, int, float, bool, type(None)})
_TEXT_OR_INT = frozenset({str, int})


def plain(value: Any) -> Any:
    """JSON-ready form of a value: enums by value, tuples as lists, nested mappings recursively."""
    if type(value) in _SCALARS:  # most cells: no isinstance against the Mapping ABC (slow per call)
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(plain(data), indent=2, ensure_ascii=False)


def to_csv(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    import csv  # here: a table or JSON never needs it
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_cell(plain(record.get(k))) for k in columns})
    return buffer.getvalue().rstrip("\n")


def to_table(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
) -> str:
    rows = [[_cell(plain(r.get(c))) for c in columns] for r in records]
    return table_of(rows, headers or [c.upper() for c in columns])


def table_of(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Rows of cells (None already written ``-``) under ``headers``, in the layout of ``to_table``."""
    header_row = list(headers)
    fast = _ascii_table(rows, header_row)
    if fast is not None:
        return fast
    from tabulate import tabulate  # imported here: ~40 ms that --help and JSON output never pay

    return tabulate(rows, headers=header_row, tablefmt="plain", disable_numparse=True)


def _ascii_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str | None:
    """``columns_table`` of rows."""
    if not rows or any(len(row) != len(headers) for row in rows):
        return None
    return columns_table([list(column) for column in zip(*rows, strict=True)], headers)


def columns_table(columns: Sequence[Sequence[Any]], headers: Sequence[str]) -> str | None:
    """The table of these columns exactly as ``tabulate(rows, headers, tablefmt="plain",
    disable_numparse=True)`` lays it out, when every cell is a str or an int and all the text is printable
    ASCII; else None.

    That layout, for such cells: every column left-aligned (with ``disable_numparse`` numbers are text
    too), cells stripped of surrounding blanks, each column as wide as its widest cell and at least its
    header plus two, columns two spaces apart, trailing blanks stripped from every line. Only printable
    ASCII: one character is one column, with no colour escape, wide character or line break, which
    tabulate measures differently. tabulate took half a second for a 20,000-row socket listing; this,
    a twentieth of that. tests/render/test_records.py checks the two agree.
    """
    if not columns or len(columns) != len(headers) or len({len(column) for column in columns}) != 1 \
            or not columns[0]:
        return None
    texts: list[list[str]] = []
    for column in columns:
        if not set(map(type, column)) <= _TEXT_OR_INT:
            return None  # bool, float, None...: tabulate's own formatting
        strings = list(map(str, column))
        if " " in "".join(strings):  # only text with blanks can have them at either end
            strings = [text.strip() for text in strings]
        texts.append(strings)
    text = "".join(headers) + "".join("".join(column) for column in texts)
    if not (text.isascii() and text.isprintable()):
        return None
    return lay_out(texts, headers)


def lay_out(texts: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """``columns_table``'s layout of columns whose cells are already what it checks for: text of printable
    ASCII without blanks at either end (a caller that knows its cells skips the checks: a pass over every
    cell each, a third of the time at 20,000 rows)."""
    widths = [max(len(header) + 2, max(map(len, column)))
              for header, column in zip(headers, texts, strict=True)]
    line = "  ".join(f"%-{width}s" for width in widths)
    lines = [(line % tuple(headers)).rstrip()]
    lines.extend([(line % row).rstrip() for row in zip(*texts, strict=True)])
    return "\n".join(lines)


def render_records(
    records: Sequence[Mapping[str, Any]],
    fmt: str,
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
) -> str:
    """Render ``records`` in ``fmt`` (table, json or csv)."""
    if fmt == "json":
        return to_json(list(records))
    if fmt == "csv":
        return to_csv(records, columns)
    return to_table(records, columns, headers)


def _csv_cell(value: Any) -> Any:
    """CSV writes booleans as JSON does (``true``/``false``): a spreadsheet and ``jq`` read the same words."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _cell(value)


def cell(value: Any) -> Any:
    """A value as a table shows it: ``-`` for None, lists space-separated, enums by value."""
    return _cell(plain(value))


def _cell(value: Any) -> Any:
    if value is None:
        return "-"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value
