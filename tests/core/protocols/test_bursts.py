"""A burst of lines from one client, without sockets: handled a bounded slice at a time, so an engine can
serve the others between slices; nothing lost, reordered or duplicated; sends joined per connection."""

from __future__ import annotations

import pytest
from helpers.chatroom import Room

from netdiag.core.protocols.actions import Close, CloseReason, Send, coalesce
from netdiag.core.protocols.handlers import SLICE_ACTIONS, SLICE_MESSAGES, ReplyHandler

BURST = 30_000


def lines_in(box: list[bytes]) -> list[bytes]:
    return b"".join(box).split(b"\n")[:-1]


def test_a_burst_is_handled_a_bounded_slice_per_call() -> None:
    room = Room(3)
    session = room.session(1)
    room.say(1, b"x\n" * BURST)
    assert session.pending
    assert len(lines_in(room.inbox[2])) == SLICE_MESSAGES
    calls = 1
    while session.pending:
        room.apply(1, session.resume())
        calls += 1
    assert calls == -(-BURST // SLICE_MESSAGES)
    assert lines_in(room.inbox[2]) == lines_in(room.inbox[3]) == [b"user1: x"] * BURST


def test_the_others_are_served_between_the_slices_of_a_burst() -> None:
    room = Room(3)
    session = room.session(1)
    room.say(1, b"".join(b"%d\n" % n for n in range(1000)))
    room.say(2, b"meanwhile\n")  # what an engine does between two slices: the others' messages
    while session.pending:
        room.apply(1, session.resume())
    third = lines_in(room.inbox[3])
    assert third.index(b"user2: meanwhile") == SLICE_MESSAGES
    assert [line for line in third if line != b"user2: meanwhile"] == [b"user1: %d" % n for n in range(1000)]
    assert lines_in(room.inbox[1]) == [b"user2: meanwhile"]


def test_a_slice_sends_one_write_per_member() -> None:
    room = Room(4)
    actions = room.session(1).received(b"x\n" * 200)
    assert actions == [Send(b"user1: x\n" * SLICE_MESSAGES, to=n) for n in (2, 3, 4)]


def test_a_slice_is_bounded_by_the_actions_it_produces_too() -> None:
    members = 2 * SLICE_ACTIONS // SLICE_MESSAGES  # each line is relayed to members - 1 others
    room = Room(members)
    session = room.session(1)
    room.say(1, b"x\n" * SLICE_MESSAGES)
    handled = len(lines_in(room.inbox[2]))
    assert 0 < handled < SLICE_MESSAGES and session.pending


def test_end_of_stream_after_a_burst_closes_once_every_line_is_handled() -> None:
    handler = ReplyHandler()
    answers = handler.received(b"hi\n" * 1000)
    answers += handler.ended()
    assert Close(CloseReason.EOF) not in answers
    while handler.pending:
        answers += handler.resume()
    assert answers[-1] == Close(CloseReason.EOF)
    assert b"".join(a.data for a in answers if isinstance(a, Send)) == b"accepted\n" * 1000


def test_a_too_long_line_after_a_burst_is_refused_after_the_lines_before_it() -> None:
    room = Room(2)
    session = room.room.session(3, "127.0.0.1:3", max_line=16)
    room.inbox[3] = []
    room.sessions[3] = session
    room.apply(3, session.connected())
    room.clear()
    room.say(3, b"ok\n" * 500 + b"y" * 17)
    while session.pending:
        room.apply(3, session.resume())
    assert lines_in(room.inbox[1]) == [b"user3: ok"] * 500
    assert room.inbox[3][-1].startswith(b"error: message longer than 16 bytes")
    assert room.closed == {3: CloseReason.LINE_TOO_LONG}


@pytest.mark.parametrize("how", ["quit", "shutdown"])
def test_a_burst_ends_with_its_session(how: str) -> None:
    room = Room(2)
    session = room.session(1)
    room.say(1, b"x\n" * 100 + b"/quit\n" + b"x\n" * 1000 if how == "quit" else b"x\n" * 1000)
    if how == "shutdown":
        room.apply(1, session.closing(CloseReason.SHUTDOWN))
    while session.pending:
        room.apply(1, session.resume())
    assert len(lines_in(room.inbox[2])) == (100 if how == "quit" else SLICE_MESSAGES)
    assert not session.pending and session.resume() == []


def test_coalesce_joins_each_connections_sends_and_keeps_their_order() -> None:
    actions = [Send(b"a1", to=1), Send(b"b1", to=2), Send(b"me"), Send(b"a2", to=1), Close(CloseReason.QUIT),
               Send(b"b2", to=2), Close(CloseReason.SLOW_READER, to=1), Send(b"a3", to=1)]
    assert coalesce(actions) == [
        Send(b"a1a2", to=1), Send(b"b1b2", to=2), Send(b"me"), Close(CloseReason.QUIT),
        Close(CloseReason.SLOW_READER, to=1), Send(b"a3", to=1),
    ]
