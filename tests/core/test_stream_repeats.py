"""A server looping on recv() returning b'' is told from real streams by what arrives after our end of
input."""

from __future__ import annotations

import pytest

from netdiag.core.stream_repeats import REPEAT_MAX_UNIT, REPEATS, RepeatWatch


def feed_all(watch: RepeatWatch, chunks: list[bytes]) -> list[bool]:
    return [watch.feed(chunk) for chunk in chunks]


def test_the_lab_servers_accepted_loop_is_recognised_after_three_repetitions() -> None:
    watch = RepeatWatch(sent=5)
    assert feed_all(watch, [b"accepted", b"accepted", b"accepted"]) == [False, False, True]
    assert watch.unit == b"accepted" and watch.total == 24


def test_repetitions_glued_or_cut_anywhere_by_tcp_are_recognised() -> None:
    watch = RepeatWatch(sent=0)
    assert feed_all(watch, [b"acceptedacc", b"eptedaccepted", b"acc"]) == [False, True, True]
    assert feed_all(watch, [b"epted" + b"accepted" * 1000]) == [True]


@pytest.mark.parametrize(("sent", "chunks"), [
    (36, [b"hello\n" * 6]),  # an echo server returning what we sent: no more than we sent
    (0, [b"\0" * 10_000]),  # a file of zeros: a one-byte unit is no reply
    (0, [b"accepted" * 2 + b"and then something else"]),
    (0, [bytes(n % 251 for n in range(REPEAT_MAX_UNIT + 1)) * REPEATS]),  # a period longer than any reply
])
def test_real_streams_are_not_taken_for_a_loop(sent: int, chunks: list[bytes]) -> None:
    watch = RepeatWatch(sent=sent)
    assert not any(feed_all(watch, chunks))


def test_the_longest_reply_still_recognised() -> None:
    assert RepeatWatch(sent=0).feed(bytes(range(REPEAT_MAX_UNIT)) * REPEATS)


def test_a_stream_that_breaks_the_pattern_is_watched_no_more() -> None:
    watch = RepeatWatch(sent=0)
    watch.feed(b"ab" * REPEATS)
    watch.feed(b"c")
    assert watch.broken and not watch.feed(b"ab" * 100)


def test_a_long_stream_without_period_ends_the_watch_and_keeps_no_memory() -> None:
    watch = RepeatWatch(sent=0)
    text = b"".join(str(n).encode() for n in range(1000))
    watch = RepeatWatch(sent=0)
    assert not watch.feed(text)
    assert watch.broken and len(watch.head) == 0
