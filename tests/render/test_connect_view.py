"""``netdiag connect``'s words and records (render/connect_view.py), from events and facts: no socket."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.client_events import (
    HalfClosed,
    LineEnding,
    NoReply,
    PeerClosed,
    PeerKeepsSending,
    Received,
    Sent,
    TimeLimit,
    Unsent,
)
from netdiag.core.failures import NetworkFailure
from netdiag.render import connect_view as view


@dataclass(frozen=True)
class FakeAttempt:
    address: str
    cause: Cause
    seconds: float
    detail: str = ""

    @property
    def outcome(self) -> str:
        return "connected" if self.cause is Cause.OK else "refused"


@dataclass
class FakeTimings:
    resolve: float | None = 0.0012
    connect: float | None = 0.0005
    first_reply: float | None = None


@dataclass
class FakeConnection:
    udp: bool = False
    target: str = "localhost:8000"
    peer: str = "127.0.0.1:8000"
    local: str = "127.0.0.1:50000"
    attempts: list[FakeAttempt] = field(default_factory=lambda: [
        FakeAttempt("::1", Cause.NOTHING_LISTENING, 0.0001, "ECONNREFUSED"),
        FakeAttempt("127.0.0.1", Cause.OK, 0.0002)])
    timings: FakeTimings = field(default_factory=FakeTimings)


def test_replies_are_data_and_a_piece_cut_mid_line_continues_it() -> None:
    assert view.event_line(Received(b"hello\r\n"), verbose=False) == view.Line("data", "hello")
    assert view.event_line(Received(b"hel", partial=True), verbose=False) == view.Line("data", "hel", "")
    assert view.event_line(Received(b"line\n", partial=True), verbose=False) == view.Line("data", "line")


def test_verbose_only_events() -> None:
    for event in (Sent(b"abc"), HalfClosed(), LineEnding(lines=True)):
        assert view.event_line(event, verbose=False) is None
        line = view.event_line(event, verbose=True)
        assert line is not None and line.stream == "info"
    assert view.event_line(Sent(b"abc"), verbose=True) == view.Line("info", "> sent 3 byte(s)")


def test_warnings_and_closing() -> None:
    assert view.event_line(NoReply(b"hi", 2.0), verbose=False) == view.Line(
        "warn", "no reply to 'hi' within 2 s")
    closed = view.Line("info", "Connection closed by the server.")
    assert view.event_line(PeerClosed(), verbose=False) == closed
    keeps = view.event_line(PeerKeepsSending(b"x", 12345, 0.5), verbose=False)
    assert keeps is not None and keeps.stream == "warn"
    assert "It sent 'x' over and over (12,345 bytes in 0.50 s)" in keeps.text
    assert view.event_line(TimeLimit(3.0), verbose=True) is None
    assert view.event_line(Unsent((b"a",)), verbose=True) is None


def test_the_tally_words_what_makes_a_failure() -> None:
    tally = view.Tally()
    for event in (Received(b"12345"), NoReply(b"hi", 1.0), Unsent((b"a", b"b")), TimeLimit(2.0)):
        tally.add(event)
    problems = tally.problems(FakeConnection())
    assert problems[0].startswith("Stopped after --max-time 2 s, the session not finished: 5 byte(s) "
                                  "received from 127.0.0.1:8000 by then.")
    assert problems[1].startswith("No reply to 1 message(s) from 127.0.0.1:8000. The connection is open")
    assert problems[2] == "The server closed the connection before 2 message(s) could be sent ('a', 'b')."
    assert view.Tally().problems(FakeConnection()) == []


def test_udp_silence_is_worded_for_datagrams() -> None:
    sentence = view.no_reply_sentence([NoReply(b"x", 1.0)], FakeConnection(udp=True))
    assert sentence.startswith("No reply to 1 datagram(s) from 127.0.0.1:8000. UDP has no handshake")


def test_connected_lines() -> None:
    connection = FakeConnection()
    assert view.connected_lines(connection, verbose=False, interactive=True, end_keys="Ctrl-D") == [
        "Connected to 127.0.0.1:8000 from 127.0.0.1:50000. Type lines to send; Ctrl-D ends."]
    assert view.connected_lines(connection, verbose=False, interactive=False) == []
    verbose = view.connected_lines(connection, verbose=True, interactive=False)
    assert verbose == [
        "resolved localhost:8000 in 1.20 ms (2 address(es) tried: ::1, 127.0.0.1)",
        "  refused on ::1 in 0.10 ms (ECONNREFUSED)",
        "  connected on 127.0.0.1 in 0.20 ms",
        "Connected to 127.0.0.1:8000 from 127.0.0.1:50000.",
    ]
    udp = view.connected_lines(FakeConnection(udp=True), verbose=False, interactive=True, end_keys="Ctrl-D")
    assert udp[0].startswith("UDP socket aimed at 127.0.0.1:8000 from 127.0.0.1:50000 (UDP has no handshake")


def test_timings_line() -> None:
    assert view.timings_line(FakeConnection()) == (
        "timings: name resolution 1.20 ms, TCP connect 0.50 ms, no reply received")
    assert view.timings_line(FakeConnection(udp=True, timings=FakeTimings(None, None, 0.002))) == (
        "timings: name resolution -, socket set up -, first reply 2.00 ms")


def test_records() -> None:
    assert view.event_record(Received(b"hi\x00", partial=True)) == {
        "event": "reply", "bytes": 3, "text": "hi\\x00", "partial": True}
    assert view.event_record(HalfClosed()) == {"event": "half-close"}
    connected = view.connected_record(FakeConnection())
    assert connected["attempts"] == [
        {"address": "::1", "outcome": "refused", "cause": "nothing-listening", "ms": 0.1},
        {"address": "127.0.0.1", "outcome": "connected", "cause": "ok", "ms": 0.2}]
    assert (connected["resolve_ms"], connected["connect_ms"]) == (1.2, 0.5)
    assert view.done_record(FakeConnection(), []) == {"event": "done", "ok": True, "problems": [],
                                                      "first_reply_ms": None}
    failure = NetworkFailure("refused", explanation=explanation_for(Cause.NOTHING_LISTENING))
    assert view.error_record(failure, [])["cause"] == "nothing-listening"
    assert view.error_record(NetworkFailure("x"), [])["cause"] == "unknown"


def test_stamped_json_puts_time_last() -> None:
    line = view.stamped_json({"event": "close", "by": "server"}, 1.23456789)
    assert line == '{"event": "close", "by": "server", "time": 1.234568}'
    assert json.loads(line)["time"] == 1.234568
