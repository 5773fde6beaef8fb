"""The one place formats are made: CSV and JSON say the same words for the same values."""

from __future__ import annotations

import csv
import io
import json
import random
import string

import pytest

from netdiag.render.records import _ascii_table, render_records, to_table


def test_csv_booleans_are_written_as_json_writes_them() -> None:
    records = [{"name": "lo", "loopback": True, "up": False, "speed": None}]
    text = render_records(records, "csv", ["name", "loopback", "up", "speed"])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{"name": "lo", "loopback": "true", "up": "false", "speed": "-"}]
    assert json.loads(render_records(records, "json", ["name"]))[0]["loopback"] is True


def _tabulate_plain(rows: list[list[object]], headers: list[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True)


@pytest.mark.parametrize(
    ("rows", "headers"),
    [
        ([["tcp", "ESTABLISHED", "127.0.0.1:8000", "127.0.0.1:41234", 4242, "python3"],
          ["udp", "UNCONN", "[::1]:53", "*", "-", "-"]],
         ["Proto", "State", "Local Address:Port", "Peer Address:Port", "PID", "Process"]),
        ([[1, " padded ", ""], [-22, "", "True"], [333, "1.5", "x"]], ["N", "Text", " H "]),
        ([["a-cell-much-wider-than-its-header", 7]], ["A", "Number"]),
        ([["", ""]], ["", "B"]),
    ],
)
def test_table_is_laid_out_as_tabulate_does(rows: list[list[object]], headers: list[str]) -> None:
    assert to_table([dict(zip(headers, row, strict=True)) for row in rows], headers, headers) \
        == _tabulate_plain(rows, headers)


def test_table_matches_tabulate_on_random_cells() -> None:
    """Random ASCII (blanks at either end, digits, empty cells) and ints: the fast layout is tabulate's."""
    chance = random.Random(11)
    alphabet = string.ascii_letters + string.digits + string.punctuation + "    "
    for _ in range(200):
        width = chance.randint(1, 5)
        headers = ["".join(chance.choices(alphabet, k=chance.randint(0, 8))) for _ in range(width)]
        rows: list[list[object]] = [
            [chance.randint(-99999, 99999) if chance.random() < 0.3
             else "".join(chance.choices(alphabet, k=chance.randint(0, 20))) for _ in headers]
            for _ in range(chance.randint(1, 6))
        ]
        columns = [f"c{i}" for i in range(len(headers))]
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        assert to_table(records, columns, headers) == _tabulate_plain(rows, headers), (rows, headers)


@pytest.mark.parametrize("odd", ["\x1b[31mred\x1b[0m", "wide \u4e2d\u6587", "caf\u00e9", "two\nlines", 1.5,
                                 True])
def test_cells_beyond_printable_ascii_go_to_tabulate(odd: object) -> None:
    """Colour escapes, wide characters, line breaks, floats and booleans: tabulate measures and formats
    them itself, so the fast layout declines them."""
    rows: list[list[object]] = [["x", odd], ["longer-cell", "y"]]
    headers = ["A", "B"]
    assert _ascii_table(rows, headers) is None
    assert _ascii_table([["x", "plain"], ["longer-cell", 7]], headers) is not None
    records = [dict(zip(headers, row, strict=True)) for row in rows]
    assert to_table(records, headers, headers) == _tabulate_plain(rows, headers)
