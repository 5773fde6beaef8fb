"""The server's event log as lines: one JSON object per event, or one human line with a local timestamp.

The meaning of the events (their kinds and fields) is ``netdiag.core.protocols.events``; this module only
writes them. The JSON form is a contract shared by tests and scripts (docs/listen.md, "JSON log"): one
object per line, ``event`` first, ``time`` a Unix float, ``peer`` as ``host:port`` (``[v6]:port``). The
human form is one line per event with a local timestamp, meant for a projector. The CLI hands one of
the two functions to the event log (its ``LineFormat``), so the adapter that writes the lines never decides
their form.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from netdiag.core.attempts import describe_attempt, describe_repeated
from netdiag.core.protocols.events import EventKind
from netdiag.core.targets import format_endpoint


def json_line(kind: EventKind, fields: dict[str, Any]) -> str:
    """``{"event": "recv", "peer": "127.0.0.1:50123", ...}``: ``event`` first, then the fields as given."""
    return json.dumps({"event": kind.value, **fields}, ensure_ascii=False)


def human_line(kind: EventKind, fields: dict[str, Any]) -> str:
    """One line for people: ``12:03:04.117  127.0.0.1:50123  received 5 bytes: hello``."""
    peer = fields.get("peer", "")
    detail = _HUMAN[kind](fields)
    return f"{_clock(fields['time'])}  {peer + '  ' if peer else ''}{detail}"


def _clock(unix_time: float) -> str:
    local = time.localtime(unix_time)
    return time.strftime("%H:%M:%S", local) + f".{int(unix_time % 1 * 1000):03d}"


def _observing(f: dict[str, Any]) -> str:
    return (f"observing port {f['port']} on {', '.join(f['interfaces'])}: attempts that never become a "
            "connection are logged too")


def _listening(f: dict[str, Any]) -> str:
    where = format_endpoint(f["host"], f["port"])
    return f"listening on {f['proto'].upper()} {where}  (mode {f['mode']}, engine {f['engine']})"


def _close(f: dict[str, Any]) -> str:
    return f"closed by {f['by']} ({f['reason']})"


def _shutdown(f: dict[str, Any]) -> str:
    return f"shut down ({f.get('closed', 0)} connection(s) closed)"


def _dropped(f: dict[str, Any]) -> str:
    return f"... {f['lines']:,} log lines dropped: stdout is not being read"


_HUMAN: dict[EventKind, Callable[[dict[str, Any]], str]] = {
    EventKind.LISTENING: _listening,
    EventKind.CONNECT: lambda f: "connected",
    EventKind.RECV: lambda f: f"received {f['bytes']} bytes: {f['text']}",
    EventKind.SEND: lambda f: f"sent {f['bytes']} bytes",
    EventKind.CLOSE: _close,
    EventKind.RESET: lambda f: "connection reset by the client (RST)",
    EventKind.REFUSED: lambda f: f"refused: {f['reason']}",
    EventKind.DATAGRAM: lambda f: f"datagram of {f['bytes']} bytes: {f['text']}",
    EventKind.SHUTDOWN: _shutdown,
    EventKind.DROPPED: _dropped,
    EventKind.OBSERVING: _observing,
    EventKind.UNANSWERED_SYN: lambda f: describe_attempt({**f, "event": "unanswered-syn"}),
    EventKind.HANDSHAKE_INCOMPLETE: lambda f: describe_attempt({**f, "event": "handshake-incomplete"}),
    EventKind.RESET_SENT: lambda f: describe_attempt({**f, "event": "reset-sent"}),
    EventKind.REPEATED: describe_repeated,
}
