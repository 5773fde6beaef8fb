"""Following many connections at once, for ``netdiag handshake --watch``: when each opened, when it ended.

The capture hands over segments one by one, from any number of connections, in capture order.
``ConnectionTracker`` keeps the segments of each connection whose opening SYN it saw, and says when its
handshake is decided (``opened``: the client acked the SYN-ACK, or a RST answered the SYN), when it is
over (``ended``: a RST, or both FINs acknowledged), and, before any answer came, each time the client's
kernel retransmits its SYN (``unanswered``: what a firewall's DROP, or an absent host, looks like).
Each event carries the full analysis (``netdiag.core.handshake``) and the rows not shown yet, so the
caller prints a connection in instalments. Pure: no sockets, no printing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from netdiag.core.handshake import (
    Address,
    HandshakeAnalysis,
    Segment,
    SegmentRow,
    analyse_connection,
    find_client,
    is_finished,
)


def handshake_done(segments: Sequence[Segment]) -> bool:
    """True once the opening is decided: the client acked the SYN-ACK, or a RST answered the SYN."""
    client = find_client(segments)
    if client is None:
        return False
    saw_syn_ack = False
    for seg in segments:
        if seg.has("R"):
            return True
        if seg.is_syn_ack and seg.destination == client:
            saw_syn_ack = True
        elif saw_syn_ack and seg.source == client and seg.has("A") and not seg.has("S"):
            return True
    return False


class WatchEventKind(str, Enum):
    """What the passive watcher reports about a connection."""

    UNANSWERED = "unanswered"
    OPENED = "opened"
    ENDED = "ended"


@dataclass(frozen=True)
class WatchEvent:
    """A connection's SYN was retransmitted unanswered, its handshake is decided, or it is over.

    ``new_rows`` are the rows not reported before; ``first`` is true for a connection's first event
    (the one whose rows begin its story, under its header).
    """

    kind: WatchEventKind
    analysis: HandshakeAnalysis
    new_rows: tuple[SegmentRow, ...]
    first: bool


@dataclass
class _Tracked:
    client: Address
    server: Address
    segments: list[Segment] = field(default_factory=list)
    shown: int = 0
    opened: bool = False


def only_client_syns(tracked: _Tracked) -> bool:
    """Nothing but the client's SYN (and its retransmissions) so far: no answer has come."""
    return all(seg.is_syn and seg.source == tracked.client for seg in tracked.segments)


class ConnectionTracker:
    """Follows every new connection (first seen by its SYN) and says when it opened and when it ended.

    Segments of connections whose SYN was not seen (already open when watching began) are ignored:
    their numbers cannot be made relative and the story would start in the middle.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[Address, Address], _Tracked] = {}

    def feed(self, seg: Segment) -> list[WatchEvent]:
        key = (seg.source, seg.destination)
        tracked = self._open.get(key) or self._open.get((seg.destination, seg.source))
        if tracked is None or (seg.is_syn and tracked.opened):
            if not seg.is_syn:
                return []
            tracked = _Tracked(client=seg.source, server=seg.destination)
            self._open[key] = tracked
        tracked.segments.append(seg)
        events: list[WatchEvent] = []
        if len(tracked.segments) > 1 and only_client_syns(tracked):
            events.append(self._event(WatchEventKind.UNANSWERED, tracked))  # a retransmitted SYN
        if not tracked.opened and handshake_done(tracked.segments):
            tracked.opened = True
            events.append(self._event(WatchEventKind.OPENED, tracked))
        if tracked.opened and is_finished(tracked.segments):
            events.append(self._event(WatchEventKind.ENDED, tracked))
            del self._open[(tracked.client, tracked.server)]
        return events

    @staticmethod
    def _event(kind: WatchEventKind, tracked: _Tracked) -> WatchEvent:
        analysis = analyse_connection(tracked.segments, client=tracked.client, server=tracked.server)
        first = tracked.shown == 0
        new_rows = analysis.rows[tracked.shown :]
        tracked.shown = len(analysis.rows)
        return WatchEvent(kind=kind, analysis=analysis, new_rows=new_rows, first=first)
