"""The watch tracker under a SYN flood and with SYNs nobody answers: bounded in count and age, and it says
what it forgot (pure: in-memory segments, no socket)."""

from __future__ import annotations

from netdiag.core.connection_tracker import ConnectionTracker, Forgotten, WatchEvent, WatchEventKind
from netdiag.core.handshake import Segment, TcpOptions

SERVER = ("127.0.0.1", 8000)


def seg(t: float, client_port: int, flags: str, to_server: bool = True, seq: int = 1000,
        ack: int = 0) -> Segment:
    client = ("127.0.0.1", client_port)
    src, dst = (client, SERVER) if to_server else (SERVER, client)
    return Segment(time=1000.0 + t, src=src[0], sport=src[1], dst=dst[0], dport=dst[1], flags=flags,
                   seq=seq, ack=ack, length=0, window=65495, options=TcpOptions())


def handshake(t: float, port: int) -> list[Segment]:
    return [seg(t, port, "S", seq=100), seg(t + 0.001, port, "SA", to_server=False, seq=500, ack=101),
            seg(t + 0.002, port, "A", seq=101, ack=501)]


def reports(events: list[WatchEvent | Forgotten]) -> list[Forgotten]:
    return [e for e in events if isinstance(e, Forgotten)]


def test_a_syn_flood_keeps_at_most_max_pending_and_reports_the_rest() -> None:
    tracker = ConnectionTracker(max_pending=1000)
    forgotten: list[Forgotten] = []
    for n in range(5000):  # 5,000 SYNs from distinct ports over 10 s, none answered
        forgotten += reports(tracker.feed(seg(n * 0.002, 20000 + n, "S")))
        assert tracker.pending <= 1000 and tracker.followed <= 1000
    forgotten += reports(tracker.flush(1010.0))
    assert sum(f.by_count for f in forgotten) == 4000
    assert sum(f.by_age for f in forgotten) == 0
    assert forgotten[-1].total == 4000 and tracker.forgotten_total == 4000
    assert len(forgotten) <= 12  # about one report per second of capture, not one per SYN
    assert tracker.pending == 1000


def test_unanswered_syns_are_forgotten_after_max_age_even_without_traffic() -> None:
    tracker = ConnectionTracker(max_age=60)
    for t in (0, 1, 3, 7, 15, 31):  # the client's kernel retransmits, nobody answers
        events = tracker.feed(seg(t, 40000, "S"))
        assert not reports(events)
    assert tracker.pending == 1
    assert tracker.expire(1000.0 + 59) == []  # not yet
    (report,) = reports(tracker.expire(1000.0 + 61))  # capture time passes with no segment at all
    assert (report.by_age, report.by_count, report.total, report.pending) == (1, 0, 1, 0)
    assert tracker.pending == 0 and tracker.followed == 0


def test_open_connections_are_never_forgotten_for_a_flood() -> None:
    tracker = ConnectionTracker(max_pending=100, max_age=60)
    opened = []
    for port in range(30000, 30010):
        for s in handshake(0, port):
            opened += [e for e in tracker.feed(s) if isinstance(e, WatchEvent)]
    assert [e.kind for e in opened] == [WatchEventKind.OPENED] * 10
    for n in range(2000):
        tracker.feed(seg(1 + n * 0.001, 40000 + n, "S"))
    tracker.expire(1000.0 + 500)  # long after: every unanswered SYN is old
    assert tracker.pending == 0
    assert tracker.followed == 10  # the 10 open connections are still followed
    # and one of them still ends normally
    ended = tracker.feed(seg(600, 30000, "R", seq=101))
    assert [e.kind for e in ended if isinstance(e, WatchEvent)] == [WatchEventKind.ENDED]


def test_a_syn_answered_before_the_limit_is_followed_to_its_end() -> None:
    tracker = ConnectionTracker(max_pending=2)
    tracker.feed(seg(0, 50000, "S", seq=100))
    tracker.feed(seg(0.1, 50001, "S", seq=100))
    events = tracker.feed(seg(0.2, 50000, "SA", to_server=False, seq=500, ack=101))
    events += tracker.feed(seg(0.3, 50000, "A", seq=101, ack=501))
    assert [e.kind for e in events if isinstance(e, WatchEvent)] == [WatchEventKind.OPENED]
    assert tracker.pending == 1
    tracker.feed(seg(0.4, 50002, "S"))
    tracker.feed(seg(0.5, 50003, "S"))  # 50001 is the oldest pending: forgotten, not 50000 (open)
    assert tracker.pending == 2 and tracker.followed == 3
    assert tracker.forgotten_total == 1

