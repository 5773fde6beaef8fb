"""The chat room without sockets: joins, relays, commands, leaves, hostile input."""

from __future__ import annotations

import pytest
from helpers.chatroom import Room

from netdiag.core.protocols.actions import Close, CloseReason, Send
from netdiag.core.protocols.chat import ChatRoom


def test_join_is_announced_to_the_others_and_welcomes_the_newcomer() -> None:
    room = ChatRoom()
    first, second = room.session(1, "127.0.0.1:1"), room.session(2, "127.0.0.1:2")
    first.connected()
    actions = second.connected()
    assert actions[0] == Send(b"* welcome user2, 2 here; commands: /nick NAME, /who, /quit\n")
    assert actions[1] == Send(b"* user2 joined from 127.0.0.1:2\n", to=1)


def test_a_line_goes_to_every_other_client_with_the_sender_name() -> None:
    room = Room(3)
    room.say(1, b"hello all\n")
    assert room.inbox == {1: [], 2: [b"user1: hello all\n"], 3: [b"user1: hello all\n"]}


def test_lab_clients_without_newlines_chat_too() -> None:
    room = Room(2)
    room.say(1, b"hi")
    assert room.inbox[2] == [b"user1: hi\n"]


@pytest.mark.parametrize(("hostile", "relayed"), [
    (b"\x1b[2J\x1b[31mred\x1b[0m\n", b"user1: red\n"),
    (b"\x1b]0;owned\x07title\n", b"user1: title\n"),
    (b"nul\x00byte\n", b"user1: nulbyte\n"),
    (b"bad \xff utf8\n", b"user1: bad \\xff utf8\n"),
    (b"bell\x07\x08\n", b"user1: bell\n"),
])
def test_relayed_text_carries_no_terminal_control(hostile: bytes, relayed: bytes) -> None:
    room = Room(2)
    room.say(1, hostile)
    assert room.inbox[2] == [relayed]


def test_blank_lines_are_not_relayed() -> None:
    room = Room(2)
    room.say(1, b"\n  \r\n\x1b[0m\n")
    assert room.inbox[2] == []


def test_nick_renames_and_tells_the_room() -> None:
    room = Room(2)
    room.say(1, b"/nick alice\n")
    assert room.inbox[1] == [b"* you are now alice\n"]
    assert room.inbox[2] == [b"* user1 is now alice\n"]
    room.clear()
    room.say(1, b"hi\n")
    assert room.inbox[2] == [b"alice: hi\n"]


@pytest.mark.parametrize(("command", "answer"), [
    (b"/nick\n", b"* a name is 1 to 24"),
    (b"/nick bad name!\n", b"* a name is 1 to 24"),
    (b"/nick " + b"x" * 25 + b"\n", b"* a name is 1 to 24"),
    (b"/nick USER2\n", b"* the name USER2 is taken"),
    (b"/dance\n", b"* unknown command /dance; commands: /nick NAME, /who, /quit"),
])
def test_bad_commands_are_answered_not_relayed(command: bytes, answer: bytes) -> None:
    room = Room(2)
    room.say(1, command)
    assert room.inbox[1][0].startswith(answer)
    assert room.inbox[2] == []


def test_who_lists_everyone_in_join_order() -> None:
    room = Room(3)
    room.say(2, b"/nick bob\n")
    room.clear()
    room.say(3, b"/WHO\n")
    assert room.inbox[3] == [b"* 3 here: user1, bob, user3\n"]


def test_quit_says_bye_closes_and_the_room_hears_it_when_the_connection_is_gone() -> None:
    room = Room(2)
    room.say(1, b"/quit\n")
    assert room.inbox[1] == [b"* bye\n"]
    assert room.closed == {1: CloseReason.QUIT}
    room.lose(1, CloseReason.QUIT)
    assert room.inbox[2] == [b"* user1 left\n"]
    assert room.room.members == {2: "user2"}


def test_a_slow_reader_dropped_is_announced_as_such() -> None:
    room = Room(3)
    room.lose(2, CloseReason.SLOW_READER)
    assert room.inbox[1] == room.inbox[3] == [b"* user2 was dropped (too slow to read the room)\n"]


def test_shutdown_says_goodbye_to_each_and_announces_no_leaves() -> None:
    room = Room(2)
    for n in (1, 2):
        room.apply(n, room.session(n).closing(CloseReason.SHUTDOWN))
    assert room.inbox[1] == room.inbox[2] == [b"* server shutting down, goodbye\n"]
    room.clear()
    room.lose(1, CloseReason.SHUTDOWN)
    assert room.inbox[2] == []


def test_losing_twice_announces_once() -> None:
    room = Room(2)
    room.lose(1, CloseReason.EOF)
    room.lose(1, CloseReason.RESET)
    assert room.inbox[2] == [b"* user1 left\n"]


def test_over_long_line_in_chat_is_refused() -> None:
    room = ChatRoom()
    session = room.session(1, "127.0.0.1:1", max_line=16)
    session.connected()
    actions = session.received(b"hi\n" + b"y" * 17)
    assert actions[-1] == Close(CloseReason.LINE_TOO_LONG)
