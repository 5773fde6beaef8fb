"""Lists of records as a table (tabulate), JSON or CSV: the one place output formats are made.

Records are plain dicts whose keys are the documented JSON field names; enum values are written as their
``.value`` so the table, the JSON and the docs use the same words.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, Literal

Format = Literal["table", "json", "csv"]
FORMATS: tuple[str, ...] = ("table", "json", "csv")


def plain(value: Any) -> Any:
    """JSON-ready form of a value: enums by value, tuples as lists, nested mappings recursively."""
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
    from tabulate import tabulate  # imported here: ~40 ms that --help and JSON output never pay

    rows: Iterable[list[Any]] = ([_cell(plain(r.get(c))) for c in columns] for r in records)
    return tabulate(list(rows), headers=list(headers or [c.upper() for c in columns]), tablefmt="plain",
                    disable_numparse=True)


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


def _cell(value: Any) -> Any:
    if value is None:
        return "-"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value
