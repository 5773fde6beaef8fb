"""``netdiag explain --pcap``: the summary table of a capture's connections, their ladders, and JSON.

The ladder of a connection is the diagram of ``netdiag handshake`` (``render.sequence``): the kept rows
are turned into core ``Segment`` values and analysed by ``core.handshake`` exactly as a live capture is,
so relative sequence numbers, SYN retransmission notes and the drawing are the same. A long connection
shows its first and last segments, with a line saying how many were left out between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netdiag.core.capture_flows import HEAD_ROWS
from netdiag.core.capture_verdicts import ConnectionVerdict
from netdiag.core.catalog import explanation_for
from netdiag.core.handshake import HandshakeAnalysis, Segment, analyse_connection, format_duration
from netdiag.core.pcap_packets import LINK_NAMES, flag_letters, parse_options
from netdiag.core.targets import format_endpoint
from netdiag.render.plain_table import plain_table
from netdiag.render.sequence import Paint, arrow_label, arrow_width, no_paint, render_header, render_rows
from netdiag.render.sequence import segment_record as _segment_record


@dataclass(frozen=True)
class CaptureFacts:
    """What the report says about the file itself."""

    path: str
    format: str
    link_types: tuple[int, ...]
    packets: int
    ip_packets: int
    start: float | None
    end: float
    connections: int  # before filters
    untracked_packets: int
    max_flows: int
    damage: str | None
    damage_offset: int | None


def link_names(link_types: Sequence[int]) -> str:
    names = dict.fromkeys(f"{LINK_NAMES.get(t, 'link type')} ({t})" for t in link_types)
    return ", ".join(names) or "no interface"


def header_lines(facts: CaptureFacts, shown: Sequence[ConnectionVerdict]) -> list[str]:
    span = format_duration(facts.end - facts.start) if facts.start is not None else "0 s"
    failed = sum(1 for v in shown if not v.ok)
    lines = [f"Capture {facts.path}: {facts.format}, {link_names(facts.link_types)}, {facts.packets:,} "
             f"packets over {span}; {len(shown)} connection(s) shown, {failed} failed"]
    if len(shown) != facts.connections:
        lines[0] += f" (of {facts.connections} in the file)"
    return lines


def warning_lines(facts: CaptureFacts) -> list[str]:
    """Sentences for stderr: damage, and flows left out by the cap."""
    lines = []
    if facts.damage is not None:
        lines.append(f"the capture is damaged at byte {facts.damage_offset:,}: {facts.damage}. The result "
                     f"covers the {facts.packets:,} packets before it.")
    if facts.untracked_packets:
        lines.append(f"only the first {facts.max_flows:,} connections are followed; "
                     f"{facts.untracked_packets:,} packets of later ones were counted but not analysed.")
    return lines


def summary_table(shown: Sequence[ConnectionVerdict], *, paint: Paint = no_paint) -> str:
    rows = []
    for v in shown:
        outcome = v.outcome.value if v.ok else paint(v.outcome.value, "red")
        notes = []
        if sum(v.retransmissions):
            notes.append(f"{sum(v.retransmissions)} retrans")
        if sum(v.zero_windows):
            notes.append(f"{sum(v.zero_windows)} zero-win")
        if v.closed_by and v.outcome.value in ("completed", "half-closed"):
            notes.append(f"{v.closed_by} closed first")
        if v.reset_by and v.outcome.value == "reset":
            notes.append(f"reset by {v.reset_by}")
        if v.syns > 1:
            notes.append(f"{v.syns} SYNs")
        if v.icmp:
            notes.append(v.icmp.split(" (", 1)[0])
        rows.append((v.number, v.proto, format_endpoint(*v.client), format_endpoint(*v.server), outcome,
                     v.cause.value, v.packets, v.bytes_to_server, v.bytes_to_client,
                     format_duration(v.end - v.start), ", ".join(notes)))
    return plain_table(rows, ("#", "proto", "client", "server", "outcome", "cause", "packets", "bytes >",
                              "bytes <", "duration", "notes"))


def _segments(verdict: ConnectionVerdict) -> list[Segment]:
    client, server = verdict.client, verdict.server
    segments = []
    for time, from_client, flags, seq, ack, length, window, options in verdict.rows:
        src, dst = (client, server) if from_client else (server, client)
        segments.append(Segment(time=time, src=src[0], sport=src[1], dst=dst[0], dport=dst[1],
                                flags=flag_letters(flags), seq=seq, ack=ack, length=length, window=window,
                                options=parse_options(options)))
    return segments


def connection_analysis(verdict: ConnectionVerdict) -> HandshakeAnalysis | None:
    """The kept segments of a TCP connection analysed as ``netdiag handshake`` does; None without rows."""
    if verdict.proto != "tcp" or not verdict.rows:
        return None
    return analyse_connection(_segments(verdict), client=verdict.client, server=verdict.server)


def ladder_lines(verdict: ConnectionVerdict, *, absolute: bool = False,
                 paint: Paint = no_paint) -> list[str]:
    """``Connection N``, its ladder (first and last segments of a long one), the reading and the fix."""
    title = (f"Connection {verdict.number}: {verdict.proto} {format_endpoint(*verdict.client)} -> "
             f"{format_endpoint(*verdict.server)}: {verdict.outcome.value} [cause: {verdict.cause.value}]")
    lines = [title]
    analysis = connection_analysis(verdict)
    if analysis is not None:
        rows = analysis.rows
        width = arrow_width([arrow_label(r, absolute=absolute) for r in rows])
        lines.append(render_header(analysis, width))
        head = len(rows) if not verdict.rows_left_out else len(rows) - _tail_count(verdict)
        drawn = render_rows(rows[:head], absolute=absolute, width=width, paint=paint)
        if verdict.rows_left_out:
            drawn.append(f"{'':13}... {verdict.rows_left_out:,} segments not shown ...")
            drawn += render_rows(rows[head:], absolute=absolute, width=width, paint=paint)
        if verdict.icmp is not None and verdict.icmp_time is not None:
            # the ICMP error is drawn where it came, among the segments (it is not a TCP segment)
            start = analysis.rows[0].segment.time - analysis.rows[0].elapsed
            at = sum(1 for r in rows if r.segment.time <= verdict.icmp_time)
            drawn.insert(at, _icmp_row(verdict, verdict.icmp_time - start, width, paint))
        lines += drawn
    elif verdict.proto == "tcp":
        lines.append(f"{'':13}(its segments were not kept: it closed cleanly; --connection "
                     f"{verdict.number} draws it)")
    lines.append(f"Reading: {verdict.reading}")
    if not verdict.ok:
        explanation = explanation_for(verdict.cause)
        lines.append(f"What it means: {explanation.meaning}")
        if explanation.fixes:
            lines.append(f"First fix: {explanation.fixes[0]}")
    return lines


def drawing_notes(verdict: ConnectionVerdict, analysis: HandshakeAnalysis) -> list[tuple[str, str]]:
    """The (tone, text) lines under a connection's SVG ladder: the text ladder's ending, for a slide.

    The title, the handshake RTT, the ICMP error (not a TCP segment, so not an arrow), the segments a long
    connection leaves out, then the verdict's reading, meaning and first fix.
    """
    failed = not verdict.ok
    notes = [("failure" if failed else "plain",
              f"Connection {verdict.number}: {verdict.outcome.value} [cause: {verdict.cause.value}]")]
    if analysis.handshake_rtt is not None:
        notes.append(("plain", f"Handshake RTT: {format_duration(analysis.handshake_rtt)}"))
    if verdict.icmp is not None:
        notes.append(("failure", f"ICMP {verdict.icmp} from {verdict.icmp_from}"))
    if verdict.rows_left_out:
        notes.append(("warning", f"{verdict.rows_left_out:,} segments between the first {HEAD_ROWS} and the "
                                 f"last {_tail_count(verdict)} are not drawn."))
    notes.append(("failure" if failed else "plain", f"Reading: {verdict.reading}"))
    if failed:
        explanation = explanation_for(verdict.cause)
        notes.append(("plain", f"What it means: {explanation.meaning}"))
        if explanation.fixes:
            notes.append(("plain", f"First fix: {explanation.fixes[0]}"))
    return notes


def _icmp_row(verdict: ConnectionVerdict, elapsed: float, width: int, paint: Paint) -> str:
    """``|<-- ICMP port unreachable (type 3 code 3) from 198.18.0.2 ---|``, in red."""
    label = f" ICMP {verdict.icmp} from {verdict.icmp_from} "
    arrow = "|<--" + label + "-" * max(width - len(label) - 5, 3) + "|"
    return f"{elapsed * 1000:.3f}".rjust(11) + "  " + paint(arrow, "red")


def _tail_count(verdict: ConnectionVerdict) -> int:
    return max(len(verdict.rows) - HEAD_ROWS, 0)


def verdict_record(verdict: ConnectionVerdict, *, with_segments: bool) -> dict[str, Any]:
    """One connection as JSON (keys documented in docs/explain.md)."""
    record: dict[str, Any] = {
        "number": verdict.number,
        "proto": verdict.proto,
        "client": format_endpoint(*verdict.client),
        "server": format_endpoint(*verdict.server),
        "outcome": verdict.outcome.value,
        "cause": verdict.cause.value,
        "ok": verdict.ok,
        "reading": verdict.reading,
        "start": verdict.start,
        "duration_s": round(verdict.end - verdict.start, 6),
        "packets": verdict.packets,
        "bytes_to_server": verdict.bytes_to_server,
        "bytes_to_client": verdict.bytes_to_client,
        "syns": verdict.syns,
        "retransmissions": {"client": verdict.retransmissions[0], "server": verdict.retransmissions[1]},
        "zero_window_stalls": {"client": verdict.zero_windows[0], "server": verdict.zero_windows[1]},
        "closed_by": verdict.closed_by,
        "reset_by": verdict.reset_by,
        "icmp": verdict.icmp,
        "icmp_from": verdict.icmp_from,
        "seen_from_start": verdict.seen_from_start,
    }
    if with_segments:
        analysis = connection_analysis(verdict)
        record["segments"] = [_segment_record(r) for r in analysis.rows] if analysis else []
        record["segments_left_out"] = verdict.rows_left_out
    return record


def capture_document(facts: CaptureFacts, shown: Sequence[ConnectionVerdict],
                     ladders: set[int]) -> dict[str, Any]:
    """The ``--format json`` document of ``explain --pcap``."""
    return {
        "file": facts.path,
        "format": facts.format,
        "link_types": list(dict.fromkeys(facts.link_types)),
        "packets": facts.packets,
        "start": facts.start,
        "duration_s": round(facts.end - facts.start, 6) if facts.start is not None else 0.0,
        "complete": facts.damage is None,
        "damage": facts.damage,
        "damage_offset": facts.damage_offset,
        "untracked_packets": facts.untracked_packets,
        "connections": [verdict_record(v, with_segments=v.number in ladders) for v in shown],
    }
