"""Chat names under any sequence of joins, renames and leaves: no two members ever go by one name.

Names are drawn from a small alphabet full of traps (case, fullwidth forms, Cyrillic and Greek look-alikes,
the next default name) so that clashes are attempted all the time.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netdiag.core.protocols.actions import CloseReason
from netdiag.core.protocols.chat import ChatRoom, ChatSession
from netdiag.core.protocols.names import canonical_name

FAST = settings(max_examples=200, deadline=None)

TRAPS = ["user1", "User2", "user3", "USER3-2", "u\u0455er4", "\uff55ser5", "alice", "\u0430lice", "ALICE",
         "b\u03bfb", "bob", "b0b", "\u0412\u041e\u0412"]
operations = st.lists(st.one_of(
    st.tuples(st.just("join")),
    st.tuples(st.just("nick"), st.integers(0, 7), st.sampled_from(TRAPS)),
    st.tuples(st.just("leave"), st.integers(0, 7)),
), max_size=40)


@FAST
@given(operations)
def test_no_two_members_ever_share_a_name(steps: list[tuple[object, ...]]) -> None:
    room = ChatRoom()
    sessions: list[ChatSession] = []
    for step in steps:
        if step[0] == "join":
            session = room.session(len(sessions) + 1, "127.0.0.1:1")
            session.connected()
            sessions.append(session)
        elif sessions:
            session = sessions[int(str(step[1])) % len(sessions)]
            if step[0] == "nick":
                session.received(f"/nick {step[2]}\n".encode())
            else:
                session.lost(CloseReason.EOF)
        names = list(room.members.values())
        assert len({canonical_name(name) for name in names}) == len(names), names
        assert {canonical_name(name): conn for conn, name in room.members.items()} == room.holders
        assert all(room.members.get(s.conn_id, s.name) == s.name for s in sessions)
