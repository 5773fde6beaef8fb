"""A connection as a sequence diagram (client column left, server column right) and as JSON records.

One row per segment: milliseconds since the first SYN, an arrow between the two columns carrying the
flags and the numbers, then the TCP options. Relative sequence numbers by default (the SYN is seq=0, as
in Wireshark); absolute ones, as tcpdump -S prints them, on request. Pure: lines in, lines out.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from netdiag.core.handshake import (
    Direction,
    HandshakeAnalysis,
    Outcome,
    Segment,
    SegmentRow,
    TcpOptions,
    format_duration,
)
from netdiag.core.targets import format_endpoint

Paint = Callable[[str, str], str]
"""``paint(text, style)``: colours text for a terminal (style names of ``render.output``), or not."""

_MIN_ARROW = 60
_TIME_WIDTH = 11


def no_paint(text: str, style: str) -> str:
    """The ``Paint`` of plain text (no terminal, or no colour)."""
    return text


def arrow_label(row: SegmentRow, *, absolute: bool = False) -> str:
    """``SYN,ACK seq=0 ack=1 len=0 win=65483``: what travels on the arrow."""
    seg = row.segment
    seq = seg.seq if absolute else row.relative_seq
    if seg.has("A"):
        ack: int | str = seg.ack if absolute or row.relative_ack is None else row.relative_ack
    else:
        ack = "-"
    return f"{seg.flag_names} seq={seq} ack={ack} len={seg.length} win={seg.window}"


_KIND_STYLES = {"rst": "red", "syn": "green", "fin": "yellow", "data": "cyan", "ack": ""}


def _style_for(seg: Segment) -> str:
    return _KIND_STYLES[seg.kind]


def _arrow(label: str, width: int, direction: Direction) -> str:
    body = f" {label} "
    if direction is Direction.TO_SERVER:
        return "|---" + body + "-" * (width - len(body) - 6) + ">|"
    return "|<--" + body + "-" * (width - len(body) - 5) + "|"


def render_rows(
    rows: Sequence[SegmentRow], *, absolute: bool = False, width: int | None = None,
    paint: Paint = no_paint,
) -> list[str]:
    """The diagram's rows only (the watch mode prints them in instalments)."""
    labels = [arrow_label(r, absolute=absolute) for r in rows]
    width = max(width or 0, arrow_width(labels))
    lines = []
    for row, label in zip(rows, labels, strict=True):
        time = f"{row.elapsed * 1000:.3f}".rjust(_TIME_WIDTH)
        arrow = _arrow(label, width, row.direction)
        style = _style_for(row.segment)
        if style:
            arrow = paint(arrow, style)
        extras = " ".join(x for x in (row.segment.options.describe(), row.note) if x)
        lines.append(f"{time}  {arrow}  {extras}".rstrip())
    return lines


def arrow_width(labels: Sequence[str]) -> int:
    return max([_MIN_ARROW, *(len(label) + 12 for label in labels)])


def render_header(analysis: HandshakeAnalysis, width: int) -> str:
    client = "CLIENT " + format_endpoint(*analysis.client)
    server = "SERVER " + format_endpoint(*analysis.server)
    gap = max(width - len(client) - len(server), 1)
    return f"{'TIME (ms)'.rjust(_TIME_WIDTH)}  {client}{' ' * gap}{server}"


def render_diagram(
    analysis: HandshakeAnalysis, *, absolute: bool = False, paint: Paint = no_paint
) -> list[str]:
    """Header, one row per segment, then the summary lines."""
    labels = [arrow_label(r, absolute=absolute) for r in analysis.rows]
    width = arrow_width(labels)
    lines = [render_header(analysis, width)]
    lines += render_rows(analysis.rows, absolute=absolute, width=width, paint=paint)
    lines.append("")
    lines += render_summary(analysis)
    return lines


def render_summary(analysis: HandshakeAnalysis) -> list[str]:
    """Handshake RTT, SYN back-off when there was one, ISNs, and the one-line reading."""
    lines = []
    if analysis.handshake_rtt is not None:
        answer = "RST,ACK" if analysis.outcome is Outcome.REFUSED else "SYN,ACK"
        lines.append(f"Handshake RTT: {format_duration(analysis.handshake_rtt)} (SYN -> {answer})")
    if analysis.syn_retransmissions:
        gaps = ", ".join(f"+{format_duration(g)}" for g in analysis.backoffs)
        pattern = backoff_pattern(analysis.backoffs)
        lines.append(f"SYN retransmissions: {analysis.syn_retransmissions} ({gaps}; {pattern})")
    if analysis.client_isn is not None:
        isns = f"client ISN {analysis.client_isn}"
        if analysis.server_isn is not None:
            isns += f", server ISN {analysis.server_isn}"
        lines.append(f"Initial sequence numbers: {isns} (shown as 0; --absolute shows the real numbers)")
    lines.append(f"Reading: {analysis.reading}")
    return lines


def backoff_pattern(gaps: Sequence[float]) -> str:
    """What the gaps between SYN retransmissions show about the kernel's retry timer."""
    if len(gaps) < 2:
        return "the client's kernel sends the SYN again while connect() waits for an answer"
    if all(later > earlier * 1.5 for earlier, later in itertools.pairwise(gaps)):
        return "exponential back-off: the kernel doubles the wait each time"
    return ("even gaps: Linux retries the first SYNs every second (net.ipv4.tcp_syn_linear_timeouts) "
            "before it doubles the wait")


def options_record(options: TcpOptions) -> dict[str, object]:
    """A segment's TCP options as JSON (None for each one it does not carry)."""
    return {
        "mss": options.mss,
        "wscale": options.wscale,
        "sack_permitted": options.sack_permitted,
        "timestamp": list(options.timestamp) if options.timestamp is not None else None,
    }


def segment_record(row: SegmentRow) -> dict[str, Any]:
    """One segment as a JSON object (keys documented in docs/handshake.md)."""
    seg = row.segment
    return {
        "time": round(row.elapsed, 6),
        "timestamp": seg.time,
        "direction": row.direction.value,
        "src": format_endpoint(seg.src, seg.sport),
        "dst": format_endpoint(seg.dst, seg.dport),
        "flags": seg.flag_names,
        "seq": seg.seq,
        "ack": seg.ack if seg.has("A") else None,
        "relative_seq": row.relative_seq,
        "relative_ack": row.relative_ack,
        "len": seg.length,
        "window": seg.window,
        "options": options_record(seg.options),
        "note": row.note or None,
    }


def summary_record(analysis: HandshakeAnalysis, *, interface: str | None = None) -> dict[str, Any]:
    rtt = analysis.handshake_rtt
    return {
        "outcome": analysis.outcome.value,
        "cause": analysis.cause.value,
        "client": format_endpoint(*analysis.client),
        "server": format_endpoint(*analysis.server),
        "interface": interface,
        "segments": len(analysis.rows),
        "handshake_rtt_ms": round(rtt * 1000, 3) if rtt is not None else None,
        "client_isn": analysis.client_isn,
        "server_isn": analysis.server_isn,
        "syn_retransmissions": analysis.syn_retransmissions,
        "syn_backoffs_s": [round(g, 3) for g in analysis.backoffs],
        "teardown": analysis.teardown.value if analysis.outcome is not Outcome.FILTERED else None,
        "teardown_by": analysis.teardown_by,
        "bytes_to_server": analysis.bytes_to_server,
        "bytes_to_client": analysis.bytes_to_client,
        "reading": analysis.reading,
    }


def analysis_document(analysis: HandshakeAnalysis, *, interface: str | None = None) -> dict[str, Any]:
    """The ``--format json`` document: every segment, then the summary."""
    return {
        "segments": [segment_record(r) for r in analysis.rows],
        "summary": summary_record(analysis, interface=interface),
    }
