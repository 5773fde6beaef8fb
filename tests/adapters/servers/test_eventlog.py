"""The event log on a real pipe whose reader is slow: a thread blocked writing must not hold up the others.

Before the log wrote lines in batches, every emitting thread waited for whichever thread was inside
``write()``: the thread engine's chat room, logging thousands of deliveries after a burst of joins, made
a SIGTERM wait seconds for that queue (tests/reliability/test_limits.py::test_sigterm_with_many_clients).
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
from netdiag.core.protocols.options import LogFormat

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


def block_the_writer(log: EventLog, pipe: Pipe) -> threading.Event:
    """Emit a line longer than the pipe holds, from a thread; return once that thread is stuck writing."""
    stuck = emit_in_thread(log, EventKind.RECV, peer="127.0.0.1:1", bytes=1, text="x" * BIGGER_THAN_A_PIPE)
    wait_until(pipe.writer_blocked, timeout=5, what="the first thread to block writing its long line")
    return stuck


def test_a_thread_stuck_writing_does_not_hold_up_the_others() -> None:
    with log_pipe() as pipe:
        log = EventLog(LogFormat.JSON, stream=pipe.stream)
        stuck = block_the_writer(log, pipe)
        others = [emit_in_thread(log, EventKind.CONNECT, peer=f"127.0.0.1:{port}") for port in (2, 3, 4)]
        wait_until(lambda: all(done.is_set() for done in others), timeout=5,
                   what="the other threads' emit() to return while the first is stuck in write()")
        assert not stuck.is_set(), "the first write was expected to block on the full pipe"
        pipe.read_everything()
        wait_until(stuck.is_set, timeout=5, what="the stuck write to finish once the pipe is read")
        log.flush()
        pipe.stream.close()
        wait_until(lambda: pipe.received.endswith(b"\n") and len(pipe.lines()) == 4, timeout=5,
                   what="all four lines")
        events = pipe.lines()
        assert events[0]["peer"] == "127.0.0.1:1", "the first line is the one that was being written"
        assert sorted(str(e["peer"]) for e in events[1:]) == [f"127.0.0.1:{p}" for p in (2, 3, 4)]


def test_a_stalled_reader_slows_emitters_down_instead_of_filling_memory() -> None:
    with log_pipe() as pipe:
        log = EventLog(LogFormat.JSON, stream=pipe.stream, max_pending=2)
        stuck = block_the_writer(log, pipe)
        queued = [emit_in_thread(log, EventKind.CONNECT, peer=f"127.0.0.1:{port}") for port in (2, 3)]
        wait_until(lambda: all(done.is_set() for done in queued), timeout=5, what="two lines queued")
        over_the_bound = emit_in_thread(log, EventKind.CONNECT, peer="127.0.0.1:4")
        # A bounded check that something does NOT happen (not synchronisation): without the bound the
        # third line would be queued at once.
        assert not over_the_bound.wait(timeout=0.3), "a third line was queued past max_pending=2"
        pipe.read_everything()  # only now can the third waiting line be written
        wait_until(lambda: stuck.is_set() and over_the_bound.is_set(), timeout=5, what="every emit to return")
        log.flush()
        pipe.stream.close()
        wait_until(lambda: pipe.received.endswith(b"\n") and len(pipe.lines()) == 4, timeout=5,
                   what="all four lines")
        assert sorted(str(e["peer"]) for e in pipe.lines()) == [f"127.0.0.1:{p}" for p in (1, 2, 3, 4)]
