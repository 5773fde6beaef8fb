"""Chat names without sockets: what is one name (case, compatibility forms, look-alikes), and a room that
never lets two members go by the same name, default names included."""

from __future__ import annotations

import pytest
from helpers.chatroom import Room

from netdiag.core.protocols.actions import CloseReason
from netdiag.core.protocols.names import canonical_name, spelling, valid_name

SAME_NAMES = [
    ("alice", "ALICE"),
    ("alice", "Alice"),
    ("alice", "\u0430lice"),  # Cyrillic a
    ("alice", "\u0410LICE"),  # Cyrillic capital A
    ("alice", "\uff41\uff4c\uff49\uff43\uff45"),  # fullwidth
    ("user4", "user\uff14"),  # fullwidth digit four
    ("user4", "USER\u2074"),  # superscript four
    ("bob", "b\u03bfb"),  # Greek omicron
    ("bob", "\u0412\u041e\u0412"),  # Cyrillic capitals VE, O, VE
    ("ops", "\u043e\u0440\u0455"),  # Cyrillic o, er, dze
    ("strasse", "Stra\u00dfe"),  # casefold: sharp s
    ("jos\u00e9", "jose\u0301"),  # composed and decomposed e-acute
    ("fix", "\ufb01x"),  # the fi ligature
]


@pytest.mark.parametrize(("one", "other"), SAME_NAMES)
def test_names_that_read_the_same_are_one_name(one: str, other: str) -> None:
    assert canonical_name(one) == canonical_name(other)


@pytest.mark.parametrize(("one", "other"), [("alice", "alicia"), ("user1", "user11"), ("jose", "josé"),
                                            ("li", "\u674e"), ("bob", "b0b")])
def test_different_names_stay_different(one: str, other: str) -> None:
    assert canonical_name(one) != canonical_name(other)


@pytest.mark.parametrize(("name", "ok"), [
    ("alice", True), ("Jos\u00e9", True), ("\u0414\u043c\u0438\u0442\u0440\u0438\u0439", True),
    ("\u674e", True), ("a.b-c_d", True), ("x" * 24, True),
    ("", False), ("x" * 25, False), ("bad name", False), ("bell\x07", False), ("zw\u200bsp", False),
    ("rtl\u202eevil", False), ("e\u0301\u0301", False),
])
def test_which_names_are_allowed(name: str, ok: bool) -> None:
    assert valid_name(spelling(name)) is ok


def test_nick_squatting_the_next_default_name_does_not_give_two_members_that_name() -> None:
    room = Room(3)
    room.say(3, b"/nick user4\n")
    assert room.inbox[3] == [b"* you are now user4\n"]
    fourth = room.room.session(4, "127.0.0.1:40004")
    welcome = fourth.connected()[0]
    assert welcome.data.startswith(b"* welcome user4-2, 4 here")
    assert sorted(room.room.members.values()) == ["user1", "user2", "user4", "user4-2"]


def test_a_default_name_skips_every_taken_name() -> None:
    room = Room(2)
    room.say(1, b"/nick USER3\n")
    room.say(2, b"/nick user3-2\n")
    third = room.room.session(3, "127.0.0.1:40003")
    assert third.connected()[0].data.startswith(b"* welcome user3-3, 3 here")


@pytest.mark.parametrize("squat", ["ALICE", "\u0430lice", "\uff41\uff4c\uff49\uff43\uff45", "Al\u0456ce"])
def test_a_nick_that_reads_as_a_present_name_is_refused_clearly(squat: str) -> None:
    room = Room(2)
    room.say(1, b"/nick alice\n")
    room.clear()
    room.say(2, f"/nick {squat}\n".encode())
    assert room.inbox[2] == [f"* the name {squat} is taken: it reads the same as alice, who is here; "
                             "pick another with /nick NAME\n".encode()]
    assert room.inbox[1] == []
    assert room.room.members[2] == "user2"


def test_a_name_is_free_again_once_its_member_renames_or_leaves() -> None:
    room = Room(3)
    room.say(1, b"/nick alice\n")
    room.say(1, b"/nick alicia\n")
    room.clear()
    room.say(2, b"/nick Alice\n")
    assert room.inbox[2] == [b"* you are now Alice\n"]
    room.lose(2, CloseReason.EOF)
    room.clear()
    room.say(3, b"/nick alice\n")
    assert room.inbox[3] == [b"* you are now alice\n"]


def test_a_member_may_change_the_case_of_its_own_name() -> None:
    room = Room(2)
    room.say(1, b"/nick alice\n")
    room.clear()
    room.say(1, b"/nick Alice\n")
    assert room.inbox[1] == [b"* you are now Alice\n"]
    assert room.inbox[2] == [b"* alice is now Alice\n"]
    room.clear()
    room.say(1, b"/nick Alice\n")
    assert room.inbox[1] == [b"* you are Alice already\n"]
