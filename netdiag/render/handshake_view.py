"""``netdiag handshake`` as text and data, apart from the drawings themselves (``render.sequence``,
``render.ladder``): what was captured, why a connection failed, and the ``--watch`` lines as
connections open and end (or are forgotten).

Pure: facts and tracker events in, lines, JSON lines and sentences out; colour comes in as a ``paint``
function (``render.sequence``'s ``(text, style)``).
"""

from __future__ import annotations

import json

from netdiag.core.catalog import Cause
from netdiag.core.connection_tracker import Forgotten, WatchEvent
from netdiag.core.handshake import Address, Outcome
from netdiag.core.targets import format_endpoint
from netdiag.core.watch_notes import event_notes
from netdiag.render.sequence import (
    Paint,
    no_paint,
    render_header,
    render_rows,
    segment_record,
    summary_record,
)

WATCH_WIDTH = 72
"""Columns of a ``--watch`` drawing."""
NOTE_INDENT = 13
"""Watch notes start under the arrows, past the time column."""


def captured_line(interface: str, client: Address, server: str) -> str:
    """Said on stderr above a drawing: where the capture saw which connection."""
    return f"Captured on {interface}: {format_endpoint(*client)} -> {server}"


def outcome_failure(outcome: Outcome, server: str, waited: float) -> tuple[str, Cause] | None:
    """A connection that did not go through, as the failure's sentence and cause (exit 1); None when it
    was accepted."""
    failures = {
        Outcome.REFUSED: (f"Connection to {server} refused: the SYN was answered with RST,ACK.",
                          Cause.NOTHING_LISTENING),
        Outcome.FILTERED: (f"No answer from {server} in {waited:.1f} s: the SYN was never answered "
                           "(filtered).", Cause.TIMEOUT),
        Outcome.RESET: (f"The connection to {server} was reset (RST).", Cause.CONNECTION_RESET),
        Outcome.INCOMPLETE: (f"The handshake with {server} did not complete.", Cause.UNKNOWN),
    }
    return failures.get(outcome)


def forgotten_record(event: Forgotten) -> dict[str, object]:
    return {"event": "forgotten", "count": event.count, "by_age": event.by_age, "by_count": event.by_count,
            "total": event.total, "pending": event.pending, "max_age": event.max_age,
            "max_pending": event.max_pending}


def forgotten_line(event: Forgotten, *, as_json: bool) -> str:
    """That connections whose handshake never completed are no longer followed, and why."""
    if as_json:
        return json.dumps(forgotten_record(event))
    reasons = []
    if event.by_age:
        reasons.append(f"{event.by_age:,} unanswered for more than {event.max_age:g} s")
    if event.by_count:
        reasons.append(f"{event.by_count:,} oldest beyond the {event.max_pending:,} followed at once")
    return (f"{'':{NOTE_INDENT}}forgot {event.count:,} connection(s) whose handshake never completed "
            f"({', '.join(reasons)}; {event.total:,} in all): many SYNs without an answer look like a "
            "SYN flood or a scan")


def watch_event_lines(event: WatchEvent, *, absolute: bool, as_json: bool,
                      paint: Paint = no_paint) -> list[str]:
    """One connection's news: its new rows (under a header the first time) and the notes on them; or one
    JSON line."""
    analysis = event.analysis
    if as_json:
        return [json.dumps({"event": event.kind.value,
                            "segments": [segment_record(r) for r in event.new_rows],
                            "summary": summary_record(analysis)})]
    lines = ["", render_header(analysis, WATCH_WIDTH)] if event.first else []
    lines.extend(render_rows(event.new_rows, absolute=absolute, width=WATCH_WIDTH, paint=paint))
    lines.extend(f"{'':{NOTE_INDENT}}{note}" for _tone, note in event_notes(event))
    return lines


def stopped_line(ended: int, forgotten_total: int) -> str:
    """The watch's last words after Ctrl-C."""
    forgotten = (f"; {forgotten_total:,} never-answered connection(s) forgotten" if forgotten_total else "")
    return f"Stopped: {ended} connection(s) seen to the end{forgotten}."
