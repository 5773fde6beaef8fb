"""What a UDP server answers one datagram (the lab's servers converted to UDP), no socket needed."""

from __future__ import annotations

import pytest

from netdiag.core.protocols.datagrams import datagram_answer
from netdiag.core.protocols.options import UDP_MODES, Mode


@pytest.mark.parametrize(("data", "answer"), [
    (b"hello", b"accepted"),            # the lab's client: bare bytes in, bare bytes out
    (b"close", b"closed"),
    (b"CLOSE", b"closed"),
    (b"hello\n", b"accepted\n"),         # nc -u sends lines: lines back
    (b"close\r\n", b"closed\n"),
    (b"", b"accepted"),                  # an empty datagram is still a message
    (b"closed", b"accepted"),
])
def test_reply_answers_each_datagram(data: bytes, answer: bytes) -> None:
    assert datagram_answer(Mode.REPLY, data) == answer


def test_echo_returns_the_datagram_and_sink_nothing() -> None:
    assert datagram_answer(Mode.ECHO, b"\x00\xff") == b"\x00\xff"
    assert datagram_answer(Mode.ECHO, b"") == b""
    assert datagram_answer(Mode.SINK, b"anything") is None


def test_reply_is_offered_over_udp() -> None:
    assert Mode.REPLY in UDP_MODES
