"""What the lecture page receives: watch events and socket listings as JSON, and the page itself.

The page draws nothing on its own for handshakes: each event carries the connection's ladder as SVG
(``netdiag.render.ladder``, with relative and absolute numbers, toggled by the page; its stylesheet is in
the page once), the explanation lines the terminal prints (``netdiag.core.watch_notes``) and the capture
time of its latest packet. Small frames matter: each one goes to every viewer. For
``sockets --watch`` an update is the list of TCP sockets with their states; the page moves each one to
its box on the TCP state diagram. Pure: values in, strings out (the page is package data).
"""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from typing import Any

from netdiag.core.connection_tracker import WatchEvent, WatchEventKind
from netdiag.core.socket_watch import Change, WatchDelta
from netdiag.core.targets import format_endpoint
from netdiag.core.watch_notes import NoteTone, event_notes
from netdiag.render.ladder import STYLE, Numbers, ladder_svg

MAX_ROWS = 400
"""Arrows drawn per connection on the page: a bulk transfer would otherwise send megabytes per event."""

MAX_SOCKETS = 300
"""Sockets shown on the state diagram: more would not be readable from the back of a room anyway."""


def lecture_page() -> bytes:
    """The static page (HTML, CSS and JS in one file, no external resource), from the package data."""
    page = resources.files("netdiag.render").joinpath("static/lecture.html").read_text()
    return page.replace("/* LADDER STYLE */", STYLE).encode()


def connection_key(event: WatchEvent) -> str:
    a = event.analysis
    return f"{format_endpoint(*a.client)} > {format_endpoint(*a.server)}"


def notes_so_far(event: WatchEvent) -> list[tuple[NoteTone, str]]:
    """The terminal's lines for this connection up to ``event``: an ended connection keeps the line its
    opening got (``refused: ...``, ``handshake done ...``) above its reading, as the terminal shows them."""
    if event.kind is WatchEventKind.ENDED:
        return event_notes(replace(event, kind=WatchEventKind.OPENED)) + event_notes(event)
    return event_notes(event)


def handshake_update(event: WatchEvent) -> str:
    """One watch event as the page's JSON: the whole connection so far, drawn, and what changed."""
    analysis = event.analysis
    rows = analysis.rows[:MAX_ROWS]
    notes = [(tone.value, text) for tone, text in notes_so_far(event)]
    hidden = len(analysis.rows) - len(rows)
    if hidden:
        notes.append(("plain", f"(and {hidden} more segments: see the terminal or --format json)"))
    record = {
        "view": "handshake",
        "event": event.kind.value,
        "key": connection_key(event),
        "outcome": analysis.outcome.value,
        "notes": [{"tone": tone, "text": text} for tone, text in notes],
        "svg": ladder_svg(analysis, notes=notes, numbers=Numbers.BOTH, rows=rows, styled=False),
        "packet_time": analysis.rows[-1].segment.time if analysis.rows else None,
    }
    return json.dumps(record)


def sockets_update(delta: WatchDelta, *, refresh: int) -> str:
    """One ``sockets --watch`` refresh: each TCP socket's state (and the one it left), gone ones last."""
    sockets: list[dict[str, Any]] = []
    for change in delta.changes:
        row = change.row
        if row.proto != "tcp":
            continue
        peer = (format_endpoint(row.remote_address, row.remote_port)
                if row.remote_address and row.remote_port else "*")
        sockets.append({
            "key": f"{row.family} {format_endpoint(row.local_address, row.local_port or 0)} {peer}",
            "local": format_endpoint(row.local_address, row.local_port or 0),
            "peer": peer,
            "state": "CLOSED" if change.change is Change.GONE else row.state,
            "previous": change.previous_state,
            "change": change.change.value,
            "process": row.process or "-",
            "pid": row.pid,
        })
    shown = sockets[:MAX_SOCKETS]
    return json.dumps({"view": "sockets", "refresh": refresh, "sockets": shown,
                       "hidden": len(sockets) - len(shown)})


def sockets_item(item: tuple[WatchDelta, int]) -> str:
    """``sockets_update`` for what ``sockets --watch --web`` publishes: (delta, refresh number)."""
    delta, refresh = item
    return sockets_update(delta, refresh=refresh)
