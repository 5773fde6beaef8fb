"""A connection as a ladder diagram in SVG: the drawing of the lecture page, and of slides.

Client and server are two vertical lines; each segment is an arrow between them, sloping down with time,
labelled with its flags and numbers (relative, absolute, or both for the page, which toggles them with a
CSS class), its time since the first SYN on the left. Unanswered SYNs are dashed and end in a cross;
resets are red. The explanation lines (``netdiag.core.watch_notes``, or the reading) go underneath.

One renderer for every consumer: ``netdiag handshake --format svg|html``, the ``--web`` page (which
receives these SVG strings over server-sent events and only places them), and any later reader of
captures: it takes the core's ``HandshakeAnalysis`` and nothing else. Pure: values in, a string out.
Colours are CSS variables with fallbacks, so the file stands alone and the page can theme it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from enum import Enum
from html import escape

from netdiag.core.handshake import Direction, HandshakeAnalysis, Outcome, SegmentRow, format_duration
from netdiag.core.targets import format_endpoint

WIDTH = 1000
_CLIENT_X = 250
_SERVER_X = 930
_TOP = 96
_ROW = 58
_SLOPE = 18
_NOTE_LINE = 34
_NOTE_WRAP = 72

STYLE = """
.nd-ladder{font-family:var(--font,'DejaVu Sans',Arial,sans-serif)}
.nd-ladder .bg{fill:var(--bg,#ffffff)}
.nd-ladder text{fill:var(--fg,#111111)}
.nd-ladder .end{font-size:24px;font-weight:bold}
.nd-ladder .time{font-size:18px;fill:var(--muted,#444444)}
.nd-ladder .flags{font-size:22px;font-weight:bold}
.nd-ladder .nums{font-size:18px}
.nd-ladder .life{stroke:var(--fg,#111111);stroke-width:4}
.nd-ladder .seg line{stroke-width:3.5}
.nd-ladder .ack line,.nd-ladder .ack polygon{stroke:var(--ack,#555555);fill:var(--ack,#555555)}
.nd-ladder .syn line,.nd-ladder .syn polygon{stroke:var(--syn,#0a7d28);fill:var(--syn,#0a7d28)}
.nd-ladder .data line,.nd-ladder .data polygon{stroke:var(--data,#0b5cad);fill:var(--data,#0b5cad)}
.nd-ladder .fin line,.nd-ladder .fin polygon{stroke:var(--fin,#a05a00);fill:var(--fin,#a05a00)}
.nd-ladder .rst line,.nd-ladder .rst polygon{stroke:var(--rst,#c4001a);fill:var(--rst,#c4001a)}
.nd-ladder .syn .flags{fill:var(--syn,#0a7d28)}
.nd-ladder .rst .flags{fill:var(--rst,#c4001a)}
.nd-ladder .fin .flags{fill:var(--fin,#a05a00)}
.nd-ladder .data .flags{fill:var(--data,#0b5cad)}
.nd-ladder .lost line{stroke-dasharray:12 8}
.nd-ladder .cross{stroke:var(--rst,#c4001a);stroke-width:5}
.nd-ladder .note{font-size:21px}
.nd-ladder .note.warning{fill:var(--fin,#a05a00);font-weight:bold}
.nd-ladder .note.failure{fill:var(--rst,#c4001a);font-weight:bold}
"""


class Numbers(str, Enum):
    """Which sequence numbers the arrows carry: relative (default), absolute, or both (the page)."""

    RELATIVE = "relative"
    ABSOLUTE = "absolute"
    BOTH = "both"


def segment_kind(row: SegmentRow) -> str:
    """The arrow's colour class: rst, syn, fin, data or ack (``Segment.kind``, as the terminal paints)."""
    return row.segment.kind


def _numbers(row: SegmentRow, absolute: bool) -> str:
    seg = row.segment
    seq = seg.seq if absolute else row.relative_seq
    if not seg.has("A"):
        ack: int | str = "-"
    else:
        ack = seg.ack if absolute or row.relative_ack is None else row.relative_ack
    return f"seq={seq} ack={ack} len={seg.length} win={seg.window}"


def _arrow(row: SegmentRow, y: float, numbers: Numbers, lost: bool) -> str:
    seg = row.segment
    rightward = row.direction is Direction.TO_SERVER
    x1, x2 = (_CLIENT_X, _SERVER_X) if rightward else (_SERVER_X, _CLIENT_X)
    y2 = y + _SLOPE
    tip = -1 if rightward else 1
    head = f"{x2},{y2} {x2 + tip * 18},{y2 - 9} {x2 + tip * 18},{y2 + 9}"
    kind = segment_kind(row)
    absolute_ack = seg.ack if seg.has("A") else ""
    attrs = (f'class="seg {kind}{" lost" if lost else ""}" data-direction="{row.direction.value}" '
             f'data-flags="{seg.flag_names}" data-seq="{seg.seq}" data-ack="{absolute_ack}" '
             f'data-rseq="{row.relative_seq}" '
             f'data-rack="{"" if row.relative_ack is None else row.relative_ack}" '
             f'data-len="{seg.length}" data-time="{row.elapsed:.6f}"')
    mid = (_CLIENT_X + _SERVER_X) / 2
    parts = [f"<g {attrs}>",
             f"<title>{escape(seg.flag_names)} {escape(seg.options.describe())}</title>",
             f'<text class="time" x="{_CLIENT_X - 22}" y="{y + 6:.0f}" text-anchor="end">'
             f"{row.elapsed * 1000:.3f} ms</text>",
             f'<line x1="{x1}" y1="{y:.0f}" x2="{x2 + tip * 4}" y2="{y2:.0f}"/>']
    if lost:
        cx, cy = x2 + tip * 40, y2 - 2
        parts.append(f'<path class="cross" d="M{cx - 11},{cy - 11} L{cx + 11},{cy + 11} '
                     f'M{cx - 11},{cy + 11} L{cx + 11},{cy - 11}"/>')
    else:
        parts.append(f'<polygon points="{head}"/>')
    label = f'<tspan class="flags">{escape(seg.flag_names)}</tspan>'
    note = f" {escape(row.note)}" if row.note else ""
    texts = []
    modes = {Numbers.RELATIVE: [(False, "")], Numbers.ABSOLUTE: [(True, "")],
             Numbers.BOTH: [(False, "rel"), (True, "abs")]}[numbers]
    for absolute, css in modes:
        klass = f' class="{css}"' if css else ""
        texts.append(f'<text{klass} x="{mid:.0f}" y="{y - 6:.0f}" text-anchor="middle">{label} '
                     f'<tspan class="nums">{escape(_numbers(row, absolute))}{note}</tspan></text>')
    parts += texts
    parts.append("</g>")
    return "".join(parts)


def ladder_svg(
    analysis: HandshakeAnalysis,
    *,
    notes: Sequence[tuple[str, str]] = (),
    numbers: Numbers = Numbers.RELATIVE,
    rows: Sequence[SegmentRow] | None = None,
    styled: bool = True,
) -> str:
    """The connection as one SVG document; ``notes`` are (tone, text) lines drawn under the arrows.

    ``rows`` defaults to every row of the analysis (a caller may pass fewer to bound a huge one);
    ``styled=False`` leaves out the stylesheet (the lecture page carries ``STYLE`` once).
    """
    shown = analysis.rows if rows is None else rows
    unanswered = analysis.outcome is Outcome.FILTERED
    note_lines: list[tuple[str, str]] = []
    for tone, text in notes:
        note_lines += [(tone, line) for line in textwrap.wrap(text, _NOTE_WRAP) or [""]]
    bottom = _TOP + _ROW * max(len(shown), 1)
    height = bottom + 24 + _NOTE_LINE * len(note_lines) + 10
    client = format_endpoint(*analysis.client)
    server = format_endpoint(*analysis.server)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="nd-ladder" '
           f'data-outcome="{analysis.outcome.value}" '
           f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="TCP connection {escape(client)} to {escape(server)}">',
           f"<style>{STYLE}</style>" if styled else "",
           f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{height}"/>',
           f'<text class="end" x="{_CLIENT_X}" y="34" text-anchor="middle">CLIENT</text>',
           f'<text class="nums" x="{_CLIENT_X}" y="60" text-anchor="middle">{escape(client)}</text>',
           f'<text class="end" x="{_SERVER_X - 60}" y="34" text-anchor="middle">SERVER</text>',
           f'<text class="nums" x="{_SERVER_X - 60}" y="60" text-anchor="middle">{escape(server)}</text>',
           f'<text class="time" x="{_CLIENT_X - 22}" y="{_TOP - 20}" text-anchor="end">time</text>',
           f'<line class="life" x1="{_CLIENT_X}" y1="{_TOP - 24}" x2="{_CLIENT_X}" y2="{bottom}"/>',
           f'<line class="life" x1="{_SERVER_X}" y1="{_TOP - 24}" x2="{_SERVER_X}" y2="{bottom}"/>']
    for index, row in enumerate(shown):
        lost = unanswered and row.segment.is_syn
        out.append(_arrow(row, _TOP + 20 + index * _ROW, numbers, lost))
    y = bottom + 24 + _NOTE_LINE - 10
    for tone, line in note_lines:
        out.append(f'<text class="note {escape(tone)}" x="30" y="{y}">{escape(line)}</text>')
        y += _NOTE_LINE
    out.append("</svg>")
    return "\n".join(out)


def summary_notes(analysis: HandshakeAnalysis) -> list[tuple[str, str]]:
    """The lines under a captured connection: the RTT and the reading, as the text diagram ends."""
    notes: list[tuple[str, str]] = []
    if analysis.handshake_rtt is not None:
        answer = "RST,ACK" if analysis.outcome is Outcome.REFUSED else "SYN,ACK"
        notes.append(("plain", f"Handshake RTT: {format_duration(analysis.handshake_rtt)} (SYN -> {answer})"))
    failed = analysis.outcome in (Outcome.REFUSED, Outcome.RESET, Outcome.FILTERED, Outcome.INCOMPLETE)
    notes.append(("failure" if failed else "plain", f"Reading: {analysis.reading}"))
    return notes


def ladder_html(analysis: HandshakeAnalysis, *, numbers: Numbers = Numbers.RELATIVE,
                notes: Sequence[tuple[str, str]] | None = None) -> str:
    """A self-contained HTML page with the drawing (no script, no external resource): for slides.

    ``notes`` default to ``summary_notes`` (a live capture); ``explain --pcap`` passes its verdict's.
    """
    svg = ladder_svg(analysis, notes=summary_notes(analysis) if notes is None else notes, numbers=numbers)
    title = f"TCP {format_endpoint(*analysis.client)} -> {format_endpoint(*analysis.server)}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>"
            "body{margin:0;padding:24px;background:#fff;color:#111}"
            "@media (prefers-color-scheme: dark){body{background:#111;color:#f2f2f2;--bg:#111;"
            "--fg:#f2f2f2;--muted:#bbb;--ack:#bbb;--syn:#4ee37a;--data:#6cb6ff;--fin:#ffb84d;--rst:#ff6b6b}}"
            "svg{max-width:100%;height:auto}</style></head>\n<body>\n"
            f"{svg}\n</body></html>\n")
