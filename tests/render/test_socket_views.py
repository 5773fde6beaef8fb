"""The sockets JSON writer against the json module: same text for every row, odd strings included."""

from __future__ import annotations

import json

import pytest

from netdiag.core.protocols.text import neutralise
from netdiag.core.sockets import SocketRow
from netdiag.core.targets import format_endpoint
from netdiag.render.records import render_records
from netdiag.render.socket_views import TABLE_COLUMNS, TABLE_HEADERS, render_sockets, socket_record

ROWS = [
    SocketRow("tcp", "ipv4", "127.0.0.1", 8000, None, None, "LISTEN", 4242, "python3"),
    SocketRow("tcp", "ipv6", "::1", 51334, "::1", 8000, "ESTABLISHED", 4242, "python3"),
    SocketRow("tcp", "ipv4", "127.0.0.1", 51320, "127.0.0.1", 8000, "TIME_WAIT", None, None),
    SocketRow("unix", "unix", '/tmp/a "quoted"\\path\n\x01 é 😀', None, None, None, "LISTEN", 7,
              "naïve\u2028name"),
    SocketRow("unix", "unix", "", None, None, None, "UNCONN", None, None),
    SocketRow("unix", "unix", "\0abstract\0, \"x\": 1", None, None, None, "UNCONN", 0, "nul\0name"),
]


@pytest.mark.parametrize("row", ROWS)
def test_each_line_is_what_json_dumps_writes(row: SocketRow) -> None:
    [line] = render_sockets([row], "json").split("\n")[1:-1]
    # the same text, but for the unshown U+2028, which a terminal would act on: written as its JSON escape
    assert line == json.dumps(socket_record(row), ensure_ascii=False).replace("\u2028", "\\u2028")
    assert json.loads(line) == socket_record(row)


def test_a_list_with_one_object_per_line() -> None:
    text = render_sockets(ROWS, "json")
    lines = text.split("\n")
    assert (lines[0], lines[-1]) == ("[", "]") and len(lines) == len(ROWS) + 2
    assert json.loads(text) == [socket_record(row) for row in ROWS]
    assert render_sockets([], "json") == "[]"


def test_wide_records_keep_the_stable_fields_first() -> None:
    class Details:
        user = "root"
        cmdline = "python3 -m http.server"

    [record] = json.loads(render_sockets(ROWS[:1], "json", {4242: Details()}))
    assert record == {**socket_record(ROWS[0]), "user": "root", "cmdline": "python3 -m http.server"}


SPACED = SocketRow("tcp", "ipv4", "127.0.0.1", 8001, None, None, "LISTEN", 99, " Web Content ")


@pytest.mark.parametrize("rows", [ROWS[:3], [*ROWS[:3], SPACED], ROWS, [ROWS[3]]],
                         ids=["shown-as-is", "blanks-in-a-name", "mixed", "hostile"])
def test_table_is_every_field_neutralised_then_laid_out(rows: list[SocketRow]) -> None:
    """The table's shortcut for text shown as itself gives what neutralising each field gives."""
    records = []
    for row in rows:
        shown = {k: neutralise(v) if isinstance(v, str) else v for k, v in socket_record(row).items()}
        shown["local"] = format_endpoint(shown["local_address"], row.local_port)
        shown["peer"] = format_endpoint(shown["remote_address"], row.remote_port)
        records.append(shown)
    assert render_sockets(rows, "table") == render_records(records, "table", TABLE_COLUMNS, TABLE_HEADERS)
    if ROWS[3] in rows:  # the path's newline and the name's U+2028 as escapes, not acted on
        assert "\\n\\x01" in render_sockets(rows, "table") and "\\u2028" in render_sockets(rows, "table")


def test_summary_record_counts_per_family_and_in_all() -> None:
    from netdiag.core.socket_summary import SummaryLine
    from netdiag.render.socket_views import summary_record

    assert summary_record(SummaryLine("tcp", "*", 3, 2, 0)) == {
        "proto": "tcp", "state": "*", "ipv4": 3, "ipv6": 2, "unix": 0, "total": 5}
