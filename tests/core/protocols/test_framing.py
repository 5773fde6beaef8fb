"""The framing rule, as a table: lab clients (no newline yet) vs line clients, limits, end of stream."""

from __future__ import annotations

import pytest

from netdiag.core.protocols.framing import LAB_MESSAGE_MAX, MessageFramer

# (chunks fed in order, messages expected, line client at the end, too long reported)
CASES = [
    ([b"hello"], [b"hello"], False, False),
    ([b"hello", b"world"], [b"hello", b"world"], False, False),  # lab client: one chunk, one message
    ([b"hello\n"], [b"hello"], True, False),
    ([b"hello\r\n"], [b"hello"], True, False),
    ([b"a\nb\n"], [b"a", b"b"], True, False),
    ([b"a\nb", b"c\n"], [b"a", b"bc"], True, False),  # partial line buffered after the first newline
    ([b"a\n", b"b", b"c", b"\r\n"], [b"a", b"bc"], True, False),
    ([b"\n"], [b""], True, False),
    ([b"x" * 9], [], False, True),  # lab message over the limit (max_line=8 below)
    ([b"ok\n", b"y" * 9], [b"ok"], True, True),  # unfinished line over the limit
    ([b"ok\n" + b"z" * 9 + b"\nlater\n"], [b"ok"], True, True),  # complete line over the limit
    ([b"\x00\xff\n"], [b"\x00\xff"], True, False),  # bytes are bytes: NUL and invalid UTF-8 pass
    ([b""], [], False, False),
]


@pytest.mark.parametrize(("chunks", "expected", "line_client", "too_long"), CASES)
def test_framing_table(chunks: list[bytes], expected: list[bytes], line_client: bool,
                       too_long: bool) -> None:
    framer = MessageFramer(max_line=8)
    messages: list[bytes] = []
    saw_too_long = False
    for chunk in chunks:
        framed = framer.feed(chunk)
        messages += framed.messages
        saw_too_long |= framed.too_long
        if framed.too_long:
            break
    assert messages == expected
    assert framer.line_client is line_client
    assert saw_too_long is too_long


def test_answers_end_with_a_newline_only_for_line_clients() -> None:
    framer = MessageFramer()
    framer.feed(b"lab message")
    assert framer.newline == b""
    framer.feed(b"line\n")
    assert framer.newline == b"\n"


def test_end_of_stream_delivers_the_unfinished_last_line() -> None:
    framer = MessageFramer()
    assert framer.feed(b"first\nsecond\r").messages == [b"first"]
    assert framer.pending == len(b"second\r")
    assert framer.finish() == [b"second"]
    assert framer.finish() == []


def test_a_lab_message_is_one_chunk_up_to_the_lab_size() -> None:
    framer = MessageFramer()
    assert framer.feed(b"m" * LAB_MESSAGE_MAX).messages == [b"m" * LAB_MESSAGE_MAX]
    assert not framer.line_client


def test_a_big_chunk_without_newline_starts_a_line_so_the_limit_covers_all_its_pieces() -> None:
    framer = MessageFramer(max_line=64 * 1024)
    piece = b"A" * (LAB_MESSAGE_MAX + 1)
    first = framer.feed(piece)
    assert first.messages == [] and not first.too_long
    assert framer.line_client and framer.pending == len(piece)
    results = [framer.feed(piece) for _ in range(3)]
    assert results[-1].too_long  # 4 pieces of 16 KiB + 1: past 64 KiB, whatever the chunking


def test_a_big_chunk_then_its_newline_is_one_line() -> None:
    framer = MessageFramer()
    framer.feed(b"B" * 20_000)
    assert framer.feed(b"B\n").messages == [b"B" * 20_001]
