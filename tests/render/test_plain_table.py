"""The probe's table renderer lays rows out exactly as tabulate's "plain" format does."""

from __future__ import annotations

import pytest
from tabulate import tabulate

from netdiag.render.plain_table import plain_table, visible_width

HEADERS = ["HOST", "ADDRESS", "PORT", "PROTO", "STATE", "REASON", "RTT_MS"]


@pytest.mark.parametrize(
    "rows",
    [
        [["127.0.0.1", "127.0.0.1", 56713, "tcp", "closed", "conn-refused", 0.081]],
        [["localhost", "::1", 5, "tcp", "\x1b[32mopen\x1b[0m", "syn-ack", 12.5],
         ["localhost", "127.0.0.1", 5, "tcp", "\x1b[1;31merror\x1b[0m", "dns-failure", "-"],
         ["a-much-longer-host-name.example", "-", 65535, "udp", "open|filtered", "no-response", "-"]],
        [],
    ],
)
def test_same_layout_as_tabulate_plain(rows: list[list[object]]) -> None:
    expected = tabulate(rows, headers=HEADERS, tablefmt="plain", disable_numparse=True)
    assert plain_table(rows, HEADERS) == expected


def test_colour_escapes_take_no_width() -> None:
    assert visible_width("\x1b[1;31mclosed\x1b[0m") == 6
    assert visible_width("closed") == 6
