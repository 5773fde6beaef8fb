"""What the log shows and what chat relays, for the inputs that break naive servers."""

from __future__ import annotations

import pytest

from netdiag.core.protocols.events import EventKind, to_human, to_json
from netdiag.core.protocols.text import clean_for_relay, printable

PRINTABLE_CASES = [
    (b"hello", "hello"),
    (b"line\r\n", "line\\r\\n"),
    (b"nul\x00", "nul\\x00"),
    (b"\xff\xfe", "\\xff\\xfe"),  # invalid UTF-8 shown escaped
    (b"back\\slash", "back\\\\slash"),  # a real backslash cannot pose as an escape
    (b"\x1b[2J", "\\x1b[2J"),  # the escape is shown, never interpreted
    ("café ✓".encode(), "café ✓"),
    (b"caf\xc3", "caf\\xc3"),  # UTF-8 cut in the middle of a character
    ("\u2028".encode(), "\\u2028"),
]


@pytest.mark.parametrize(("data", "shown"), PRINTABLE_CASES)
def test_printable_table(data: bytes, shown: str) -> None:
    assert printable(data) == shown


def test_printable_cuts_long_text() -> None:
    assert printable(b"a" * 20, limit=5) == "aaaaa..."


RELAY_CASES = [
    (b"plain", "plain"),
    (b"\x1b[1;31mred\x1b[0m", "red"),
    (b"\x1b]52;c;Y29weQ==\x07paste", "paste"),  # OSC 52 would write the reader's clipboard
    ("\x9b2Jc1".encode(), "c1"),  # C1 CSI, encoded in UTF-8
    (b"\x9b2J", "\\x9b2J"),  # the raw byte is invalid UTF-8: shown as harmless text
    (b"tab\tkept", "tab\tkept"),
    (b"\xffok", "\\xffok"),
]


@pytest.mark.parametrize(("data", "relayed"), RELAY_CASES)
def test_clean_for_relay_table(data: bytes, relayed: str) -> None:
    assert clean_for_relay(data) == relayed


def test_json_event_puts_event_first_and_time_last() -> None:
    line = to_json(EventKind.RECV, {"peer": "[::1]:5", "bytes": 2, "text": "hi", "time": 1.5})
    assert line == '{"event": "recv", "peer": "[::1]:5", "bytes": 2, "text": "hi", "time": 1.5}'


@pytest.mark.parametrize(("kind", "fields", "words"), [
    (EventKind.LISTENING, {"proto": "tcp", "host": "::1", "port": 80, "mode": "echo", "engine": "asyncio"},
     "listening on TCP [::1]:80  (mode echo, engine asyncio)"),
    (EventKind.RECV, {"peer": "127.0.0.1:5", "bytes": 2, "text": "hi"}, "127.0.0.1:5  received 2 bytes: hi"),
    (EventKind.CLOSE, {"peer": "127.0.0.1:5", "by": "server", "reason": "idle-timeout"},
     "closed by server (idle-timeout)"),
    (EventKind.RESET, {"peer": "127.0.0.1:5"}, "reset by the client"),
    (EventKind.SHUTDOWN, {"closed": 2}, "shut down (2 connection(s) closed)"),
])
def test_human_lines_start_with_a_timestamp(kind: EventKind, fields: dict[str, object], words: str) -> None:
    line = to_human(kind, {**fields, "time": 0.25})
    assert line[2] == ":" and line[8] == "."
    assert words in line
