"""What the segments of one TCP connection say: who opened it, how the handshake went, how it ended.

Theory of operation. A capture adapter turns packets into ``Segment`` values (plain numbers, no scapy),
in capture order. ``analyse_connection`` takes the segments of one connection (one 4-tuple) and derives:

* the roles: the client is the side that sent the first SYN without ACK;
* relative sequence numbers: each side's numbers minus its own initial sequence number (ISN), modulo
  2**32, the way Wireshark shows them, so the SYN is seq=0 and the SYN-ACK acks 1 (RFC 9293 3.4);
* the outcome of the handshake (``Outcome``): accepted (SYN, SYN-ACK, ACK), refused (SYN answered by
  RST), filtered (SYNs retransmitted by the client's kernel and never answered), reset (accepted and
  then aborted with RST);
* the handshake RTT (the answered SYN to the SYN-ACK), the teardown (FIN exchange or RST) and a one-line
  reading for people.

``netdiag.core.connection_tracker`` does the same incrementally for the passive ``--watch`` mode.

Pure: no sockets, no scapy, no printing; tested with in-memory segments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from netdiag.core.catalog import Cause

SEQ_SPACE = 2**32

# Scapy's flag letters, in the order people read them ("SYN,ACK", "FIN,PSH,ACK", "RST,ACK").
_FLAG_NAMES: tuple[tuple[str, str], ...] = (
    ("S", "SYN"),
    ("F", "FIN"),
    ("R", "RST"),
    ("P", "PSH"),
    ("U", "URG"),
    ("E", "ECE"),
    ("C", "CWR"),
    ("A", "ACK"),
)

Address = tuple[str, int]


class Direction(str, Enum):
    """Which way a segment travels, seen from the connection's roles."""

    TO_SERVER = "to-server"
    TO_CLIENT = "to-client"


class Outcome(str, Enum):
    """How the connection attempt ended (JSON ``summary.outcome``)."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    FILTERED = "filtered"
    RESET = "reset"
    INCOMPLETE = "incomplete"


class Teardown(str, Enum):
    """How an accepted connection ended (JSON ``summary.teardown``)."""

    FIN = "fin"
    RST = "rst"
    OPEN = "open"


@dataclass(frozen=True)
class TcpOptions:
    """The TCP options people look at in a handshake (RFC 9293 MSS, RFC 7323 wscale/timestamps, RFC 2018)."""

    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    timestamp: tuple[int, int] | None = None

    def describe(self) -> str:
        """``mss=65495 sackOK ts=3850426890/0 wscale=7``; empty when the segment carries none of them."""
        parts: list[str] = []
        if self.mss is not None:
            parts.append(f"mss={self.mss}")
        if self.sack_permitted:
            parts.append("sackOK")
        if self.timestamp is not None:
            parts.append(f"ts={self.timestamp[0]}/{self.timestamp[1]}")
        if self.wscale is not None:
            parts.append(f"wscale={self.wscale}")
        return " ".join(parts)


@dataclass(frozen=True)
class Segment:
    """One TCP segment as captured: addresses, flags (scapy letters such as ``"SA"``), numbers, options.

    ``time`` is the capture timestamp (seconds since the epoch); ``length`` is the TCP payload length.
    """

    time: float
    src: str
    sport: int
    dst: str
    dport: int
    flags: str
    seq: int
    ack: int
    length: int
    window: int
    options: TcpOptions = field(default_factory=TcpOptions)

    def has(self, flag: str) -> bool:
        return flag in self.flags

    @property
    def kind(self) -> str:
        """``rst``, ``syn``, ``fin``, ``data`` or ``ack``, in that priority: what a drawing colours it as
        (the terminal ladder and the SVG ladder both)."""
        if self.has("R"):
            return "rst"
        if self.has("S"):
            return "syn"
        if self.has("F"):
            return "fin"
        return "data" if self.length else "ack"

    @property
    def is_syn(self) -> bool:
        """An opening SYN (not the SYN-ACK)."""
        return self.has("S") and not self.has("A")

    @property
    def is_syn_ack(self) -> bool:
        return self.has("S") and self.has("A")

    @property
    def source(self) -> Address:
        return (self.src, self.sport)

    @property
    def destination(self) -> Address:
        return (self.dst, self.dport)

    @property
    def flag_names(self) -> str:
        """``SYN,ACK``: the flags spelled out, in reading order."""
        return ",".join(name for letter, name in _FLAG_NAMES if letter in self.flags) or "none"

    @property
    def sequence_space(self) -> int:
        """How much sequence space the segment uses: payload bytes, plus one each for SYN and FIN."""
        return self.length + int(self.has("S")) + int(self.has("F"))


@dataclass(frozen=True)
class SegmentRow:
    """A segment placed in its connection: direction, time since the first SYN, relative numbers."""

    segment: Segment
    direction: Direction
    elapsed: float
    relative_seq: int
    relative_ack: int | None
    note: str = ""


@dataclass(frozen=True)
class HandshakeAnalysis:
    """Everything the diagram, the JSON and the reading show about one connection."""

    client: Address
    server: Address
    rows: tuple[SegmentRow, ...]
    outcome: Outcome
    cause: Cause
    handshake_rtt: float | None
    syn_elapsed: tuple[float, ...]
    client_isn: int | None
    server_isn: int | None
    teardown: Teardown
    teardown_by: str | None
    bytes_to_server: int
    bytes_to_client: int
    reading: str

    @property
    def syn_retransmissions(self) -> int:
        return max(len(self.syn_elapsed) - 1, 0)

    @property
    def backoffs(self) -> tuple[float, ...]:
        """Gaps between successive SYNs (Linux: 1 s each for the first few, then doubling)."""
        return tuple(b - a for a, b in zip(self.syn_elapsed, self.syn_elapsed[1:], strict=False))


def relative(number: int, base: int) -> int:
    """``number - base`` in the 32-bit sequence space (wraps around like TCP does)."""
    return (number - base) % SEQ_SPACE


def find_client(segments: Iterable[Segment]) -> Address | None:
    """The side that sent the first opening SYN, or ``None`` when no SYN was captured."""
    for seg in segments:
        if seg.is_syn:
            return seg.source
    return None


def belongs_to(seg: Segment, client: Address, server: Address) -> bool:
    """True when ``seg`` travels between exactly these two endpoints (either way)."""
    return (seg.source, seg.destination) in ((client, server), (server, client))


def is_finished(segments: Sequence[Segment]) -> bool:
    """True once nothing more is expected: a RST, or both FINs sent and each acknowledged by the peer."""
    if any(seg.has("R") for seg in segments):
        return True
    fins: dict[Address, int] = {}
    for seg in segments:
        if seg.has("F"):
            fins[seg.source] = (seg.seq + seg.sequence_space) % SEQ_SPACE
    if len(fins) < 2:
        return False
    return all(
        any(seg.has("A") and seg.destination == side and seg.ack == after for seg in segments)
        for side, after in fins.items()
    )


def analyse_connection(
    segments: Sequence[Segment],
    *,
    client: Address | None = None,
    server: Address | None = None,
    waited: float | None = None,
) -> HandshakeAnalysis:
    """Analyse the segments of one connection (capture order); ``waited`` is how long the client tried."""
    client = client or find_client(segments)
    if client is None:
        raise ValueError("no opening SYN among the segments and no client given")
    if server is None:
        first = next((s for s in segments if s.source == client), None)
        if first is None:
            raise ValueError("no segment from the client")
        server = first.destination
    own = [s for s in segments if belongs_to(s, client, server)]
    syns = [s for s in own if s.is_syn and s.source == client]
    syn_acks = [s for s in own if s.is_syn_ack and s.source == server]
    client_isn = syns[0].seq if syns else None
    server_isn = syn_acks[0].seq if syn_acks else None
    start = syns[0].time if syns else (own[0].time if own else 0.0)
    rows = tuple(_rows(own, client, client_isn, server_isn, start))
    outcome = _outcome(own, client, server, syn_acks)
    answers = syn_acks or [s for s in own if s.has("R") and s.source == server][:1]
    rtt = _handshake_rtt(syns, answers)
    teardown, teardown_by = _teardown(own, client)
    to_server = sum(s.length for s in own if s.source == client)
    to_client = sum(s.length for s in own if s.source == server)
    syn_elapsed = tuple(s.time - start for s in syns)
    partial = HandshakeAnalysis(
        client=client, server=server, rows=rows, outcome=outcome, cause=_cause(outcome),
        handshake_rtt=rtt, syn_elapsed=syn_elapsed, client_isn=client_isn, server_isn=server_isn,
        teardown=teardown, teardown_by=teardown_by, bytes_to_server=to_server,
        bytes_to_client=to_client, reading="",
    )
    return _with_reading(partial, waited)


def _rows(
    own: Sequence[Segment], client: Address, client_isn: int | None, server_isn: int | None, start: float
) -> Iterable[SegmentRow]:
    syn_count = 0
    previous_syn: float | None = None
    for seg in own:
        to_server = seg.source == client
        own_isn, peer_isn = (client_isn, server_isn) if to_server else (server_isn, client_isn)
        rel_seq = relative(seg.seq, own_isn) if own_isn is not None else seg.seq
        rel_ack = relative(seg.ack, peer_isn) if seg.has("A") and peer_isn is not None else None
        note = ""
        if seg.is_syn and to_server:
            if previous_syn is not None:
                note = f"retransmission #{syn_count} (+{seg.time - previous_syn:.3f} s)"
            syn_count += 1
            previous_syn = seg.time
        yield SegmentRow(
            segment=seg,
            direction=Direction.TO_SERVER if to_server else Direction.TO_CLIENT,
            elapsed=seg.time - start,
            relative_seq=rel_seq,
            relative_ack=rel_ack,
            note=note,
        )


def _outcome(own: Sequence[Segment], client: Address, server: Address, syn_acks: list[Segment]) -> Outcome:
    if not own:
        return Outcome.INCOMPLETE
    server_rst = any(s.has("R") and s.source == server for s in own)
    if not syn_acks:
        if server_rst:
            return Outcome.REFUSED
        if all(s.is_syn and s.source == client for s in own):
            return Outcome.FILTERED
        return Outcome.INCOMPLETE
    if server_rst:
        return Outcome.RESET
    acked = any(s.source == client and s.has("A") and not s.has("S") for s in own)
    return Outcome.ACCEPTED if acked else Outcome.INCOMPLETE


def _cause(outcome: Outcome) -> Cause:
    return {
        Outcome.ACCEPTED: Cause.OK,
        Outcome.REFUSED: Cause.NOTHING_LISTENING,
        Outcome.FILTERED: Cause.TIMEOUT,
        Outcome.RESET: Cause.CONNECTION_RESET,
        Outcome.INCOMPLETE: Cause.UNKNOWN,
    }[outcome]


def _handshake_rtt(syns: list[Segment], answers: list[Segment]) -> float | None:
    """From the SYN that was answered (the last one before the answer) to the SYN-ACK (or the RST)."""
    if not syns or not answers:
        return None
    answer = answers[0]
    asked = [s for s in syns if s.time <= answer.time] or syns[:1]
    return max(answer.time - asked[-1].time, 0.0)


def _teardown(own: Sequence[Segment], client: Address) -> tuple[Teardown, str | None]:
    for seg in own:
        if seg.has("R"):
            return Teardown.RST, "client" if seg.source == client else "server"
        if seg.has("F"):
            return Teardown.FIN, "client" if seg.source == client else "server"
    return Teardown.OPEN, None


def format_duration(seconds: float) -> str:
    """``0.06 ms`` below a second, ``3.00 s`` above: the units a person expects for each scale."""
    if seconds < 1.0:
        return f"{seconds * 1000:.3f} ms"
    return f"{seconds:.2f} s"


def _with_reading(a: HandshakeAnalysis, waited: float | None) -> HandshakeAnalysis:
    count = len(a.rows)
    noun = "segment" if count == 1 else "segments"
    port = a.server[1]
    rtt = format_duration(a.handshake_rtt) if a.handshake_rtt is not None else "no answer"
    if a.outcome is Outcome.ACCEPTED:
        text = f"{count} {noun}, {rtt}: the server accepted"
        if a.bytes_to_server or a.bytes_to_client:
            text += f"; {a.bytes_to_server} bytes sent, {a.bytes_to_client} received"
        if a.teardown is Teardown.FIN:
            text += f"; the {a.teardown_by} closed first (FIN)"
        elif a.teardown is Teardown.RST:
            text += f"; the {a.teardown_by} reset the connection (RST)"
    elif a.outcome is Outcome.REFUSED:
        text = (f"{count} {noun}, {rtt}: refused: the SYN was answered with RST,ACK, so nothing "
                f"listens on port {port} (or a firewall rejects with tcp-reset)")
    elif a.outcome is Outcome.FILTERED:
        tries = len(a.syn_elapsed)
        span = format_duration(waited) if waited is not None else format_duration(a.syn_elapsed[-1])
        gaps = ", ".join(format_duration(g) for g in a.backoffs)
        retried = f", retransmitted after {gaps}" if gaps else ""
        text = (f"{count} {noun} in {span}: no answer: SYN sent {tries} "
                f"time{'s' if tries != 1 else ''}{retried}; dropped by a firewall or the host is absent")
    elif a.outcome is Outcome.RESET:
        text = f"{count} {noun}, {rtt}: the server accepted, then reset the connection (RST)"
    else:
        text = f"{count} {noun}: the handshake did not complete while netdiag watched"
    return replace(a, reading=text)
