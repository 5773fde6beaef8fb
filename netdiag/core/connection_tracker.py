"""Following many connections at once, for ``netdiag handshake --watch``: when each opened, when it ended.

The capture hands over segments one by one, from any number of connections, in capture order.
``ConnectionTracker`` keeps the segments of each connection whose opening SYN it saw, and says when its
handshake is decided (``opened``: the client acked the SYN-ACK, or a RST answered the SYN), when it is
over (``ended``: a RST, or both FINs acknowledged), and, before any answer came, each time the client's
kernel retransmits its SYN (``unanswered``: what a firewall's DROP, or an absent host, looks like).
Each event carries the full analysis (``netdiag.core.handshake``) and the rows not shown yet, so the
caller prints a connection in instalments. Pure: no sockets, no printing.

Connections whose handshake never completes (a SYN nobody answers, or a SYN flood's half-open
connections) are forgotten once older than ``max_age`` seconds of capture time, or beyond ``max_pending``
of them (the oldest first): a flood during a lecture used to grow the tracker without bound. Forgetting is
reported (``Forgotten``), at most once per ``report_every`` seconds, so the view says what it no longer
follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from netdiag.core.handshake import (
    Address,
    HandshakeAnalysis,
    Segment,
    SegmentRow,
    analyse_connection,
    find_client,
    is_finished,
)

MAX_PENDING = 1000
"""Connections followed at once whose handshake is not done (unanswered or half-open SYNs)."""
MAX_AGE = 180.0
"""Seconds after its first SYN that a connection whose handshake is not done is forgotten: Linux gives up
a connect after about 127 s of SYN retransmissions (tcp_syn_retries 6)."""
REPORT_EVERY = 1.0
"""Seconds of capture time between two reports of forgotten connections (a flood forgets one per SYN)."""


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


ForgetReason = Literal["age", "count"]


@dataclass(frozen=True)
class Forgotten:
    """Connections whose handshake never completed, no longer followed since the last report.

    ``by_age``: older than ``max_age`` s; ``by_count``: the oldest beyond ``max_pending``; ``total``: all
    forgotten since watching began; ``pending``: those still followed.
    """

    by_age: int
    by_count: int
    total: int
    pending: int
    max_age: float
    max_pending: int

    @property
    def count(self) -> int:
        return self.by_age + self.by_count


@dataclass
class _Tracked:
    client: Address
    server: Address
    segments: list[Segment] = field(default_factory=list)
    shown: int = 0
    opened: bool = False
    began: float = 0.0


def only_client_syns(tracked: _Tracked) -> bool:
    """Nothing but the client's SYN (and its retransmissions) so far: no answer has come."""
    return all(seg.is_syn and seg.source == tracked.client for seg in tracked.segments)


class ConnectionTracker:
    """Follows every new connection (first seen by its SYN) and says when it opened and when it ended.

    Segments of connections whose SYN was not seen (already open when watching began) are ignored:
    their numbers cannot be made relative and the story would start in the middle.
    """

    def __init__(self, *, max_pending: int = MAX_PENDING, max_age: float = MAX_AGE,
                 report_every: float = REPORT_EVERY) -> None:
        self._open: dict[tuple[Address, Address], _Tracked] = {}
        # keys of the connections whose handshake is not done, oldest first (dicts keep insertion order)
        self._pending: dict[tuple[Address, Address], None] = {}
        self.max_pending = max_pending
        self.max_age = max_age
        self.report_every = report_every
        self.forgotten_total = 0
        self._unreported = {"age": 0, "count": 0}
        self._last_report: float | None = None

    @property
    def pending(self) -> int:
        """Connections followed whose handshake is not done."""
        return len(self._pending)

    @property
    def followed(self) -> int:
        """All connections followed."""
        return len(self._open)

    def feed(self, seg: Segment) -> list[WatchEvent | Forgotten]:
        key = (seg.source, seg.destination)
        tracked = self._open.get(key) or self._open.get((seg.destination, seg.source))
        events: list[WatchEvent | Forgotten] = []
        if tracked is None or (seg.is_syn and tracked.opened):
            if not seg.is_syn:
                return self.expire(seg.time)
            tracked = _Tracked(client=seg.source, server=seg.destination, began=seg.time)
            self._open[key] = tracked
            self._pending.pop(key, None)
            self._pending[key] = None
            self._forget_beyond_count()
        tracked.segments.append(seg)
        if len(tracked.segments) > 1 and only_client_syns(tracked):
            events.append(self._event(WatchEventKind.UNANSWERED, tracked))  # a retransmitted SYN
        if not tracked.opened and handshake_done(tracked.segments):
            tracked.opened = True
            self._pending.pop((tracked.client, tracked.server), None)
            events.append(self._event(WatchEventKind.OPENED, tracked))
        if tracked.opened and is_finished(tracked.segments):
            events.append(self._event(WatchEventKind.ENDED, tracked))
            del self._open[(tracked.client, tracked.server)]
        return events + self.expire(seg.time)

    def expire(self, now: float) -> list[WatchEvent | Forgotten]:
        """Forget the connections not done ``max_age`` s after their first SYN (``now``: capture time, also
        passed while no segment comes); return the report of what was forgotten, when one is due."""
        while self._pending:
            key = next(iter(self._pending))
            if now - self._open[key].began <= self.max_age:
                break
            self._forget(key, "age")
        return self._report(now)

    def flush(self, now: float) -> list[WatchEvent | Forgotten]:
        """The report of what was forgotten and not reported yet, due or not (at the end of watching)."""
        return self._report(now, force=True)

    def _forget_beyond_count(self) -> None:
        while len(self._pending) > self.max_pending:
            self._forget(next(iter(self._pending)), "count")

    def _forget(self, key: tuple[Address, Address], reason: ForgetReason) -> None:
        del self._pending[key]
        del self._open[key]
        self._unreported[reason] += 1
        self.forgotten_total += 1

    def _report(self, now: float, *, force: bool = False) -> list[WatchEvent | Forgotten]:
        if not any(self._unreported.values()):
            return []
        due = self._last_report is None or now - self._last_report >= self.report_every
        if not (due or force):
            return []
        self._last_report = now
        report = Forgotten(by_age=self._unreported["age"], by_count=self._unreported["count"],
                           total=self.forgotten_total, pending=len(self._pending), max_age=self.max_age,
                           max_pending=self.max_pending)
        self._unreported = {"age": 0, "count": 0}
        return [report]

    @staticmethod
    def _event(kind: WatchEventKind, tracked: _Tracked) -> WatchEvent:
        analysis = analyse_connection(tracked.segments, client=tracked.client, server=tracked.server)
        first = tracked.shown == 0
        new_rows = analysis.rows[tracked.shown :]
        tracked.shown = len(analysis.rows)
        return WatchEvent(kind=kind, analysis=analysis, new_rows=new_rows, first=first)
