"""The event log's two line forms (render/log_lines.py): the JSON contract and the human line."""

from __future__ import annotations

import json

import pytest

from netdiag.core.protocols.events import EventKind
from netdiag.render.log_lines import _HUMAN, human_line, json_line


def test_json_event_puts_event_first_and_time_last() -> None:
    line = json_line(EventKind.RECV, {"peer": "[::1]:5", "bytes": 2, "text": "hi", "time": 1.5})
    assert line == '{"event": "recv", "peer": "[::1]:5", "bytes": 2, "text": "hi", "time": 1.5}'


def test_json_keeps_text_as_text() -> None:
    line = json_line(EventKind.RECV, {"text": "café", "time": 0.0})
    assert "café" in line and json.loads(line)["text"] == "café"


@pytest.mark.parametrize(("kind", "fields", "words"), [
    (EventKind.LISTENING, {"proto": "tcp", "host": "::1", "port": 80, "mode": "echo", "engine": "asyncio"},
     "listening on TCP [::1]:80  (mode echo, engine asyncio)"),
    (EventKind.LISTENING,
     {"proto": "udp", "host": "127.0.0.1", "port": 9, "mode": "sink", "engine": "threads"},
     "listening on UDP 127.0.0.1:9  (mode sink, engine threads)"),
    (EventKind.RECV, {"peer": "127.0.0.1:5", "bytes": 2, "text": "hi"}, "127.0.0.1:5  received 2 bytes: hi"),
    (EventKind.CLOSE, {"peer": "127.0.0.1:5", "by": "server", "reason": "idle-timeout"},
     "closed by server (idle-timeout)"),
    (EventKind.RESET, {"peer": "127.0.0.1:5"}, "reset by the client"),
    (EventKind.SHUTDOWN, {"closed": 2}, "shut down (2 connection(s) closed)"),
    (EventKind.DROPPED, {"lines": 1234}, "... 1,234 log lines dropped: stdout is not being read"),
    (EventKind.OBSERVING, {"port": 8000, "interfaces": ["lo", "eth0"]}, "observing port 8000 on lo, eth0"),
])
def test_human_lines_start_with_a_timestamp(kind: EventKind, fields: dict[str, object], words: str) -> None:
    line = human_line(kind, {**fields, "time": 0.25})
    assert line[2] == ":" and line[5] == ":" and line[8] == "." and line[9:12] == "250"
    assert words in line


def test_a_line_without_peer_has_no_empty_column() -> None:
    line = human_line(EventKind.SHUTDOWN, {"closed": 0, "time": 0.0})
    assert line[12:] == "  shut down (0 connection(s) closed)"


def test_every_kind_has_a_human_line() -> None:
    assert set(_HUMAN) == set(EventKind)
