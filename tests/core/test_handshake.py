"""Connection analysis and the watch tracker on in-memory segments: roles, numbers, outcomes (no root)."""

from __future__ import annotations

import pytest

from netdiag.core.catalog import Cause
from netdiag.core.connection_tracker import ConnectionTracker, WatchEventKind, handshake_done
from netdiag.core.handshake import (
    Direction,
    Outcome,
    Segment,
    TcpOptions,
    Teardown,
    analyse_connection,
    is_finished,
    relative,
)

CLIENT = ("127.0.0.1", 50000)
SERVER = ("127.0.0.1", 8000)
C_ISN = 4_294_967_000  # close to 2**32: relative numbers must wrap
S_ISN = 1_000


def seg(t: float, to_server: bool, flags: str, seq: int, ack: int = 0, length: int = 0,
        options: TcpOptions | None = None) -> Segment:
    src, dst = (CLIENT, SERVER) if to_server else (SERVER, CLIENT)
    return Segment(time=100.0 + t, src=src[0], sport=src[1], dst=dst[0], dport=dst[1], flags=flags,
                   seq=seq % 2**32, ack=ack % 2**32, length=length, window=65495,
                   options=options or TcpOptions())


def full_conversation() -> list[Segment]:
    """Handshake, 5 bytes each way, client closes first: the arithmetic of a real loopback exchange."""
    c, s = C_ISN, S_ISN
    return [
        seg(0.0, True, "S", c, options=TcpOptions(mss=65495, wscale=7, sack_permitted=True,
                                                  timestamp=(1, 0))),
        seg(0.00006, False, "SA", s, c + 1, options=TcpOptions(mss=65495, wscale=7)),
        seg(0.0001, True, "A", c + 1, s + 1),
        seg(0.001, True, "PA", c + 1, s + 1, length=5),
        seg(0.0011, False, "A", s + 1, c + 6),
        seg(0.0012, False, "PA", s + 1, c + 6, length=5),
        seg(0.0013, True, "FA", c + 6, s + 6),
        seg(0.0014, False, "FA", s + 6, c + 7),
        seg(0.0015, True, "A", c + 7, s + 7),
    ]


def test_accepted_connection_relative_numbers_and_reading() -> None:
    analysis = analyse_connection(full_conversation())
    assert analysis.client == CLIENT and analysis.server == SERVER
    assert analysis.outcome is Outcome.ACCEPTED and analysis.cause is Cause.OK
    syn, syn_ack, ack = analysis.rows[:3]
    assert (syn.relative_seq, syn.relative_ack) == (0, None)
    assert (syn_ack.relative_seq, syn_ack.relative_ack) == (0, 1)
    assert (ack.relative_seq, ack.relative_ack) == (1, 1)
    assert [r.direction for r in analysis.rows[:2]] == [Direction.TO_SERVER, Direction.TO_CLIENT]
    assert analysis.rows[-1].relative_seq == 7 and analysis.rows[-1].relative_ack == 7
    assert analysis.handshake_rtt == pytest.approx(0.00006)
    assert (analysis.bytes_to_server, analysis.bytes_to_client) == (5, 5)
    assert (analysis.teardown, analysis.teardown_by) == (Teardown.FIN, "client")
    assert analysis.reading.startswith("9 segments, 0.060 ms: the server accepted")
    assert "5 bytes sent, 5 received" in analysis.reading


def test_relative_wraps_around_the_sequence_space() -> None:
    assert relative(5, 2**32 - 3) == 8
    assert relative(2**32 - 1, 2**32 - 1) == 0


def test_refused_is_syn_answered_by_rst() -> None:
    segments = [seg(0.0, True, "S", C_ISN), seg(0.00004, False, "RA", 0, C_ISN + 1)]
    analysis = analyse_connection(segments)
    assert analysis.outcome is Outcome.REFUSED
    assert analysis.cause is Cause.NOTHING_LISTENING
    assert analysis.rows[1].relative_ack == 1 or analysis.rows[1].relative_ack is None
    assert "refused" in analysis.reading and "port 8000" in analysis.reading
    assert is_finished(segments) and handshake_done(segments)


def test_filtered_lists_retransmissions_and_backoff() -> None:
    segments = [seg(0.0, True, "S", C_ISN), seg(1.02, True, "S", C_ISN), seg(3.05, True, "S", C_ISN)]
    analysis = analyse_connection(segments, client=CLIENT, server=SERVER, waited=4.0)
    assert analysis.outcome is Outcome.FILTERED and analysis.cause is Cause.TIMEOUT
    assert analysis.syn_retransmissions == 2
    assert analysis.backoffs == pytest.approx((1.02, 2.03))
    assert analysis.rows[1].note.startswith("retransmission #1 (+1.020 s)")
    assert "SYN sent 3 times" in analysis.reading and "4.00 s" in analysis.reading
    assert not handshake_done(segments) and not is_finished(segments)


def test_reset_after_accept() -> None:
    c, s = C_ISN, S_ISN
    segments = [seg(0, True, "S", c), seg(0.1, False, "SA", s, c + 1), seg(0.2, True, "A", c + 1, s + 1),
                seg(0.3, False, "RA", s + 1, c + 1)]
    analysis = analyse_connection(segments)
    assert analysis.outcome is Outcome.RESET and analysis.cause is Cause.CONNECTION_RESET
    assert (analysis.teardown, analysis.teardown_by) == (Teardown.RST, "server")


def test_is_finished_needs_both_fins_acknowledged() -> None:
    conversation = full_conversation()
    assert not is_finished(conversation[:-1])
    assert is_finished(conversation)


def test_segments_of_other_connections_are_ignored() -> None:
    stranger = Segment(time=100.0, src="127.0.0.1", sport=40000, dst="127.0.0.1", dport=8000,
                       flags="S", seq=5, ack=0, length=0, window=1)
    analysis = analyse_connection([stranger, *full_conversation()], client=CLIENT, server=SERVER)
    assert len(analysis.rows) == 9


def test_flag_names_read_in_order() -> None:
    assert seg(0, True, "FPA", 1).flag_names == "FIN,PSH,ACK"
    assert seg(0, True, "SA", 1).flag_names == "SYN,ACK"


def test_options_describe() -> None:
    options = TcpOptions(mss=1460, wscale=7, sack_permitted=True, timestamp=(10, 0))
    assert options.describe() == "mss=1460 sackOK ts=10/0 wscale=7"
    assert TcpOptions().describe() == ""


def test_tracker_reports_open_then_end_and_ignores_old_connections() -> None:
    tracker = ConnectionTracker()
    old = Segment(time=99.0, src="127.0.0.1", sport=40000, dst="127.0.0.1", dport=8000, flags="PA",
                  seq=5, ack=9, length=3, window=1)
    assert tracker.feed(old) == []
    events = [e for s in full_conversation() for e in tracker.feed(s)]
    assert [e.kind for e in events] == [WatchEventKind.OPENED, WatchEventKind.ENDED]
    assert [e.first for e in events] == [True, False]
    assert len(events[0].new_rows) == 3 and len(events[1].new_rows) == 6
    assert events[1].analysis.outcome is Outcome.ACCEPTED


def test_tracker_reports_a_refusal_as_opened_and_ended() -> None:
    tracker = ConnectionTracker()
    events = [e for s in (seg(0.0, True, "S", C_ISN), seg(0.1, False, "RA", 0, C_ISN + 1))
              for e in tracker.feed(s)]
    assert [e.kind for e in events] == [WatchEventKind.OPENED, WatchEventKind.ENDED]
    assert events[-1].analysis.outcome is Outcome.REFUSED


def test_tracker_reports_each_unanswered_syn_retransmission_until_the_answer() -> None:
    """A DROP in the path: the SYN comes again and again; each time the watch says so, then the
    connection goes on as usual when an answer finally comes (the rule was removed)."""
    tracker = ConnectionTracker()
    c, s = C_ISN, S_ISN
    segments = [seg(0.0, True, "S", c), seg(1.0, True, "S", c), seg(3.0, True, "S", c),
                seg(3.1, False, "SA", s, c + 1), seg(3.2, True, "A", c + 1, s + 1)]
    events = [e for segment in segments for e in tracker.feed(segment)]
    assert [e.kind for e in events] == [WatchEventKind.UNANSWERED, WatchEventKind.UNANSWERED,
                                        WatchEventKind.OPENED]
    assert [e.first for e in events] == [True, False, False], "one header, on the first instalment"
    assert [len(e.new_rows) for e in events] == [2, 1, 2]
    assert events[1].analysis.outcome is Outcome.FILTERED and len(events[1].analysis.syn_elapsed) == 3
    assert events[2].analysis.outcome is Outcome.ACCEPTED


def test_no_syn_and_no_client_is_an_error() -> None:
    with pytest.raises(ValueError):
        analyse_connection([seg(0, True, "A", 1, 1)])
