"""The event log on a real pipe whose reader does not read: no emitting thread may wait for it.

Before, an emitting thread wrote the log itself: with a pipe nobody read, the first one blocked in
``write()`` and the others queued behind it (or, past 10,000 lines, waited for it), so every client of
the server stalled and SIGTERM waited for the pipe to drain. Now lines past a bound are dropped and
counted, and the count is written where they were lost (tests/reliability/test_stdout.py runs the
whole server that way).
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from helpers.waiting import wait_until

from netdiag.adapters.servers.eventlog import EventLog
from netdiag.core.protocols.events import EventKind
from netdiag.render.log_lines import human_line, json_line

PIPE_CAPACITY = 64 * 1024
"""What a Linux pipe holds by default; a line longer than this blocks its writer until the reader reads."""
BIGGER_THAN_A_PIPE = 4 * PIPE_CAPACITY


@dataclass
class Pipe:
    """The log's stream is the write end; the test reads the other end only when it decides to."""

    stream: TextIO
    read_fd: int
    received: bytearray = field(default_factory=bytearray)
    reading: bool = False

    def read_everything(self) -> None:
        """Read (in a thread) until the write end is closed."""
        if self.reading:
            return
        self.reading = True

        def drain() -> None:
            while chunk := os.read(self.read_fd, 65536):
                self.received += chunk

        threading.Thread(target=drain, daemon=True).start()

    def unread(self) -> int:
        """Bytes written into the pipe and not read yet (FIONREAD)."""
        return int(struct.unpack("i", fcntl.ioctl(self.read_fd, termios.FIONREAD, b"\0" * 4))[0])

    def writer_blocked(self) -> bool:
        return self.unread() >= PIPE_CAPACITY

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in bytes(self.received).decode().splitlines()]


@contextmanager
def log_pipe() -> Iterator[Pipe]:
    read_fd, write_fd = os.pipe()
    stream = open(write_fd, "w", encoding="utf-8")  # noqa: SIM115 - closed below, after the test
    pipe = Pipe(stream, read_fd)
    try:
        yield pipe
    finally:
        pipe.read_everything()  # a test that failed early must not leave a thread blocked on the pipe
        stream.close()


def emit_in_thread(log: EventLog, kind: EventKind, **fields: object) -> threading.Event:
    done = threading.Event()

    def run() -> None:
        log.emit(kind, **fields)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done


def fill_the_pipe(log: EventLog, pipe: Pipe) -> None:
    """Emit a line longer than the pipe holds; return once the pipe is full (the writer waits on it)."""
    log.emit(EventKind.RECV, peer="127.0.0.1:1", bytes=1, text="x" * BIGGER_THAN_A_PIPE)
    wait_until(pipe.writer_blocked, timeout=5, what="the log's writer to fill the pipe")


def test_no_emitting_thread_waits_for_a_reader_that_does_not_read() -> None:
    with log_pipe() as pipe:
        log = EventLog(json_line, pipe.stream)
        fill_the_pipe(log, pipe)
        others = [emit_in_thread(log, EventKind.CONNECT, peer=f"127.0.0.1:{port}") for port in (2, 3, 4)]
        wait_until(lambda: all(done.is_set() for done in others), timeout=5,
                   what="the other threads' emit() to return while the pipe is full")
        pipe.read_everything()
        log.flush()
        pipe.stream.close()
        wait_until(lambda: pipe.received.endswith(b"\n") and len(pipe.lines()) == 4, timeout=5,
                   what="all four lines")
        events = pipe.lines()
        assert events[0]["peer"] == "127.0.0.1:1", "the first line is the one that was being written"
        assert sorted(str(e["peer"]) for e in events[1:]) == [f"127.0.0.1:{p}" for p in (2, 3, 4)]


def test_past_the_bound_lines_are_dropped_and_counted_where_they_were_lost() -> None:
    with log_pipe() as pipe:
        log = EventLog(json_line, pipe.stream, max_pending=200)
        fill_the_pipe(log, pipe)
        for port in range(2, 102):  # about 70 characters each: two fit within 200, the rest are dropped
            log.emit(EventKind.CONNECT, peer=f"127.0.0.1:{port}")
        kept = 100 - log.dropped_total
        assert 1 <= kept <= 3
        pipe.read_everything()  # the reader comes back: the count is written after the last line kept
        wait_until(lambda: b'"dropped"' in pipe.received, timeout=5, what="the count of the lines dropped")
        log.emit(EventKind.CONNECT, peer="127.0.0.1:200")
        wait_until(lambda: b'"127.0.0.1:200"' in pipe.received, timeout=5, what="the line after the gap")
        log.flush()
        pipe.stream.close()
        wait_until(lambda: pipe.received.endswith(b"\n") and len(pipe.lines()) == kept + 3, timeout=5,
                   what="the lines kept, the count and the next line")
        events = pipe.lines()
    assert [e.get("peer") for e in events[: kept + 1]] == [f"127.0.0.1:{p}" for p in range(1, kept + 2)]
    assert events[kept + 1] == {"event": "dropped", "lines": 100 - kept, "time": events[kept + 1]["time"]}
    assert events[kept + 2]["peer"] == "127.0.0.1:200"


def test_flush_gives_up_on_a_reader_that_does_not_read_and_leaves_the_count_in_the_pipe() -> None:
    with log_pipe() as pipe:
        log = EventLog(human_line, pipe.stream, stall_timeout=0.2)
        fill_the_pipe(log, pipe)
        for port in range(2, 12):
            log.emit(EventKind.CONNECT, peer=f"127.0.0.1:{port}")
        flushed = threading.Event()
        threading.Thread(target=lambda: (log.flush(), flushed.set()), daemon=True).start()
        wait_until(flushed.is_set, timeout=10, what="flush() to give up on the full pipe")
        pipe.stream.close()
        pipe.read_everything()  # the reader comes back after the process is gone
        wait_until(lambda: pipe.received.endswith(b"\n") and b"dropped" in pipe.received, timeout=5,
                   what="the count of the lines lost")
    last = bytes(pipe.received).decode().splitlines()[-1]
    # the long line (cut off by the give-up) and the 10 connects after it were never written
    assert last.endswith("... 11 log lines dropped: stdout is not being read"), last
