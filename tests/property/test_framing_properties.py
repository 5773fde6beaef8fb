"""Chunk-boundary properties of the sans-I/O protocols: the same bytes, split differently, mean the same.

The framing rule (netdiag/core/protocols/framing.py) makes a connection a *line client* from the first
chunk that contains a newline; before that, each chunk is one message (the lab's clients). So the
property "any split gives the same messages" is stated for streams whose first chunk contains a newline,
which is what nc/telnet send; echo is byte-exact for every split.
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from netdiag.core.protocols.actions import Action, Close, CloseReason, Send
from netdiag.core.protocols.chat import ChatRoom
from netdiag.core.protocols.framing import MessageFramer
from netdiag.core.protocols.handlers import ConnectionHandler, EchoHandler, ReplyHandler

FAST = settings(max_examples=150, deadline=None)

line_bytes = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))
line_streams = st.lists(
    st.tuples(line_bytes, st.sampled_from([b"\n", b"\r\n"])), min_size=1, max_size=12
).map(lambda pairs: b"".join(text + end for text, end in pairs))


@st.composite
def splits(draw: st.DrawFn, data: bytes, first_has_newline: bool = True) -> list[bytes]:
    """``data`` cut at arbitrary points (the first chunk reaching past the first newline if asked)."""
    low = data.index(b"\n") + 1 if first_has_newline and b"\n" in data else 1
    cuts = sorted(set(draw(st.lists(st.integers(min_value=low, max_value=max(low, len(data))),
                                     max_size=10))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(bounds) if b > a]


def frame_all(chunks: list[bytes], max_line: int) -> tuple[list[bytes], bool]:
    framer = MessageFramer(max_line=max_line)
    messages: list[bytes] = []
    for chunk in chunks:
        framed = framer.feed(chunk)
        messages += framed.messages
        if framed.too_long:
            return messages, True
    return messages + framer.finish(), False


@FAST
@given(st.data(), line_streams, st.sampled_from([8, 16, 64, 64 * 1024]))
def test_line_framing_ignores_chunk_boundaries(data: st.DataObject, stream: bytes, max_line: int) -> None:
    chunks = data.draw(splits(stream))
    assert frame_all(chunks, max_line) == frame_all([stream], max_line)


@FAST
@given(line_streams)
def test_line_messages_are_the_lines_without_terminators(stream: bytes) -> None:
    messages, too_long = frame_all([stream], 64 * 1024)
    expected = [line[:-1] if line.endswith(b"\r") else line for line in stream.split(b"\n")[:-1]]
    assert (messages, too_long) == (expected, False)


@FAST
@given(st.data(), st.binary(max_size=300))
def test_echo_is_byte_exact_for_any_split(data: st.DataObject, payload: bytes) -> None:
    handler = EchoHandler()
    echoed = b""
    for chunk in data.draw(splits(payload, first_has_newline=False)):
        for action in handler.received(chunk):
            assert isinstance(action, Send) and action.to is None
            echoed += action.data
    assert echoed == payload
    assert handler.ended() == [Close(CloseReason.EOF)]


def feed(handler: ConnectionHandler, chunks: list[bytes]) -> list[Action]:
    """Every chunk, each followed by the slices of a burst (``resume()`` while ``pending``)."""
    actions: list[Action] = []
    for chunk in chunks:
        actions += handler.received(chunk)
        while handler.pending:
            actions += handler.resume()
    return actions


def stream_of(actions: list[Action], to: int | None = None) -> list[object]:
    """What connection ``to`` gets: its bytes joined (however many sends carried them), then its closes."""
    got: list[object] = []
    for action in actions:
        if action.to != to:
            continue
        if isinstance(action, Send) and got and isinstance(got[-1], bytes):
            got[-1] += action.data
        else:
            got.append(action.data if isinstance(action, Send) else action)
    return got


def reply_transcript(chunks: list[bytes]) -> list[object]:
    handler = ReplyHandler()
    actions = feed(handler, chunks)
    actions += handler.ended()
    while handler.pending:
        actions += handler.resume()
    return stream_of(actions)


@FAST
@given(st.data(), line_streams)
def test_reply_answers_do_not_depend_on_the_split(data: st.DataObject, stream: bytes) -> None:
    assert reply_transcript(data.draw(splits(stream))) == reply_transcript([stream])


def chat_deliveries(chunks: list[bytes]) -> list[bytes]:
    room = ChatRoom()
    sender, witness = room.session(1, "127.0.0.1:1"), room.session(2, "127.0.0.1:2")
    sender.connected()
    witness.connected()
    delivered = b"".join(data for data in stream_of(feed(sender, chunks), to=2) if isinstance(data, bytes))
    return delivered.splitlines(keepends=True)


@FAST
@given(st.data(), line_streams)
def test_chat_relays_the_same_lines_whatever_the_split(data: st.DataObject, stream: bytes) -> None:
    assume(b"/quit" not in stream.lower())
    chunks = data.draw(splits(stream))
    relayed = chat_deliveries(chunks)
    assert relayed == chat_deliveries([stream])
    for line in relayed:
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert b"\x1b" not in line and b"\x00" not in line


@FAST
@given(st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b), st.integers(8, 100))
def test_over_long_lab_message_is_refused_not_buffered(message: bytes, max_line: int) -> None:
    framer = MessageFramer(max_line=max_line)
    framed = framer.feed(message)
    assert framed.too_long == (len(message) > max_line)
    assert framer.pending == 0
