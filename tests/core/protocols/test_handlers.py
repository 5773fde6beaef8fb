"""echo, reply, greet and sink as sans-I/O handlers: chunks in, actions out, no socket."""

from __future__ import annotations

import pytest

from netdiag.core.protocols.actions import Action, Close, CloseReason, Mode, Send
from netdiag.core.protocols.chat import ChatRoom, ChatSession
from netdiag.core.protocols.factory import make_handler
from netdiag.core.protocols.handlers import (
    ConnectionHandler,
    EchoHandler,
    GreetHandler,
    ReplyHandler,
    SinkHandler,
    refusal_notice,
)


def feed(handler: ConnectionHandler, *chunks: bytes, eof: bool = False) -> list[Action]:
    actions = handler.connected()
    for chunk in chunks:
        actions += handler.received(chunk)
    if eof:
        actions += handler.ended()
    return actions


def sent(actions: list[Action]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Send))


def closes(actions: list[Action]) -> list[CloseReason]:
    return [a.reason for a in actions if isinstance(a, Close)]


@pytest.mark.parametrize("chunks", [[b"abc"], [b"a", b"b", b"c"], [b"\x00\xff\r\n", b"\x1b[2J"]])
def test_echo_sends_every_byte_back_and_closes_after_eof(chunks: list[bytes]) -> None:
    actions = feed(EchoHandler(), *chunks, eof=True)
    assert sent(actions) == b"".join(chunks)
    assert actions[-1] == Close(CloseReason.EOF)


def test_sink_never_answers() -> None:
    actions = feed(SinkHandler(), b"anything\n", b"\x00", eof=True)
    assert actions == [Close(CloseReason.EOF)]


# (chunks, bytes the client gets back, close reasons)
REPLY_CASES = [
    ([b"hello"], b"accepted", []),  # the lab's client: no newline, no newline back
    ([b"hello", b"again"], b"acceptedaccepted", []),
    ([b"hello\n"], b"accepted\n", []),  # nc: a line, a line back
    ([b"one\r\ntwo\r\n"], b"accepted\naccepted\n", []),  # telnet: CRLF
    ([b"close"], b"closed", [CloseReason.QUIT]),
    ([b"  CLOSE \r\n"], b"closed\n", [CloseReason.QUIT]),
    ([b"Close\n", b"ignored\n"], b"closed\n", [CloseReason.QUIT]),  # nothing after close
    ([b"closed"], b"accepted", []),
    ([b"a\nclo", b"se\n"], b"accepted\nclosed\n", [CloseReason.QUIT]),
]


@pytest.mark.parametrize(("chunks", "answer", "reasons"), REPLY_CASES)
def test_reply_table(chunks: list[bytes], answer: bytes, reasons: list[CloseReason]) -> None:
    actions = feed(ReplyHandler(), *chunks)
    assert sent(actions) == answer
    assert closes(actions) == reasons


def test_reply_answers_an_unfinished_last_line_at_eof() -> None:
    actions = feed(ReplyHandler(), b"a\nlast", eof=True)
    assert sent(actions) == b"accepted\naccepted\n"
    assert closes(actions) == [CloseReason.EOF]


def test_over_long_message_is_told_then_closed() -> None:
    handler = ReplyHandler(max_line=10)
    actions = feed(handler, b"ok\n", b"x" * 11)
    assert sent(actions).startswith(b"accepted\nerror: message longer than 10 bytes")
    assert closes(actions) == [CloseReason.LINE_TOO_LONG]
    assert handler.received(b"more\n") == []  # nothing after the limit


def test_greet_sends_the_lab_greeting_then_closes_after_the_first_message() -> None:
    handler = GreetHandler()
    assert handler.connected() == [Send(b"You are connected")]
    assert handler.received(b"Hi from the client") == [Close(CloseReason.GREETED)]
    assert handler.received(b"second") == []


def test_greet_with_a_line_client() -> None:
    assert feed(GreetHandler(), b"hello\nmore\n")[1:] == [Close(CloseReason.GREETED)]


@pytest.mark.parametrize("handler", [ReplyHandler(idle_timeout=2), GreetHandler(idle_timeout=2)])
def test_idle_timeout_says_why(handler: ConnectionHandler) -> None:
    actions = handler.closing(CloseReason.IDLE_TIMEOUT)
    assert b"idle for 2 s" in sent(actions)
    assert closes(actions) == [CloseReason.IDLE_TIMEOUT]


def test_echo_closes_silently_on_idle_and_shutdown() -> None:
    for reason in (CloseReason.IDLE_TIMEOUT, CloseReason.SHUTDOWN):
        assert EchoHandler().closing(reason) == [Close(reason)]


def test_refusal_is_polite_and_names_the_limit() -> None:
    assert b"--max-clients" in refusal_notice(3) and b"3 clients" in refusal_notice(3)


@pytest.mark.parametrize(("mode", "kind"), [(Mode.ECHO, EchoHandler), (Mode.SINK, SinkHandler),
                                            (Mode.REPLY, ReplyHandler), (Mode.GREET, GreetHandler),
                                            (Mode.CHAT, ChatSession)])
def test_factory_makes_one_handler_per_mode(mode: Mode, kind: type) -> None:
    assert isinstance(make_handler(mode, 1, "127.0.0.1:1", room=ChatRoom()), kind)


def test_chat_needs_a_room() -> None:
    with pytest.raises(ValueError, match="ChatRoom"):
        make_handler(Mode.CHAT, 1, "127.0.0.1:1")
