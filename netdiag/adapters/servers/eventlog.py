"""Writes the server's events to a stream (stdout), from any thread, never waiting for the reader.

The CLI hands over both the stream and the form of a line (``render.log_lines``: human or JSON), so
this module decides neither where the log goes nor what a line looks like, only how it gets written.

The reader of stdout is not ours: a pipe nobody reads (``netdiag listen | less`` left unscrolled) takes
64 KiB and then blocks its writer, and a terminal paused with Ctrl-S takes nothing at all. A server
thread that wrote its log itself stopped with it (about 200 events in, every client stalled, and SIGTERM
waited for the pipe to drain). So:

* ``emit`` only queues the line. One writer thread writes, and only what the stream takes at once: it
  waits for the descriptor to be writable and writes at most ``PIPE_BUF`` bytes (which a pipe or a
  terminal with room accepts without blocking).
* The queue is bounded (``max_pending`` characters). Past it, lines are dropped and counted; when the
  reader takes bytes again, ``... 1,234 log lines dropped: stdout is not being read`` (a ``dropped``
  event in JSON) is written where they were lost.
* At exit ``flush`` writes what the reader takes, giving up once it has taken nothing for
  ``stall_timeout`` seconds (counted from when it stopped, so a reader gone for long costs no wait at
  exit), then says how many lines were lost. Into a full pipe that would be impossible, so on
  Linux the pipe is first grown by a page (``F_SETPIPE_SZ``): a reader who comes back later finds the
  count after the last line written.

``quiet`` keeps only ``listening`` and ``shutdown`` (benchmarks: the log is not what they measure).
A reader that goes away (``netdiag listen | head``) stops the log, never the server.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from netdiag.core.protocols.events import EventKind

LineFormat = Callable[[EventKind, dict[str, Any]], str]
"""``(kind, fields) -> line`` without its newline (``render.log_lines.json_line`` or ``human_line``)."""

MAX_PENDING = 4 * 1024 * 1024
"""Characters of log lines queued and not written yet, past which new lines are dropped (and counted)."""
STALL_TIMEOUT = 1.0
"""At exit: how long the reader may take nothing before the rest of the log is given up (seconds)."""
CHUNK = getattr(select, "PIPE_BUF", 512)
"""The most written at once: a pipe with room for one more page takes it whole without blocking."""
_POLL = 0.1
"""How often a writer waiting for the reader looks whether the log is being closed (seconds)."""


class EventLog:
    """Many threads emit; one writer thread writes what the stream takes; nothing waits for the reader."""

    def __init__(self, line: LineFormat, stream: TextIO, *, quiet: bool = False,
                 max_pending: int = MAX_PENDING, stall_timeout: float = STALL_TIMEOUT) -> None:
        self.stream = stream
        self.render = line
        self.verbose = not quiet
        # sys.stdout is None when the process started with stdout closed (>&-): nothing is written then
        self.broken = getattr(self.stream, "write", None) is None
        self.max_pending = max_pending
        self.stall_timeout = stall_timeout
        self.dropped_total = 0
        self._lines: list[str] = []  # queued by emit, under _lock
        self._queued = 0  # their characters
        self._dropped = 0  # lines dropped since the last notice, under _lock
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set when there is work for a writer that went idle
        self._writer_idle = False
        self._closing = False
        self._writer: threading.Thread | None = None
        # Taken from the queue, encoded, not yet (wholly) written: (bytes, dropped) with dropped 0 for a
        # batch of log lines, or the count a notice stands for. Only the writer thread touches it, and
        # ``flush`` once that thread has ended.
        self._out: deque[tuple[bytes, int]] = deque()
        self._offset = 0  # bytes of _out[0] already written
        self._at_line_start = True
        self._blocked_since: float | None = None  # since when the stream has taken nothing we had for it
        self._fd = _descriptor(self.stream)
        self._encoding = getattr(self.stream, "encoding", None) or "utf-8"
        errors = getattr(self.stream, "errors", None) or "strict"
        self._errors = "backslashreplace" if errors == "strict" else errors  # the log must not fail on text

    def emit(self, kind: EventKind, **fields: Any) -> None:
        """Queue one event (``time`` is added here), or count it as dropped when the queue is full."""
        if self.broken:
            return
        line = self.render(kind, {**fields, "time": round(time.time(), 6)})
        with self._lock:
            if self._closing:
                return
            if self._dropped or (self._lines and self._queued + len(line) > self.max_pending):
                self._dropped += 1
                self.dropped_total += 1
                return
            self._lines.append(line)
            self._queued += len(line)
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="netdiag-log", daemon=True)
                self._writer.start()
            wake, self._writer_idle = self._writer_idle, False
        if wake:
            self._wake.set()

    def flush(self) -> None:
        """At exit: stop the writer, write what the reader takes (giving up once it has taken nothing for
        ``stall_timeout`` s) and say how many lines were lost. Events emitted afterwards are ignored."""
        with self._lock:
            self._closing = True
            writer = self._writer
        self._wake.set()
        if writer is not None:
            writer.join(timeout=self.stall_timeout + 2 * _POLL)
            if writer.is_alive():  # stuck inside a write() the stream never returns from: leave it be
                return
        self._take()
        while self._out and not self.broken:
            self._write_some(_POLL)
            blocked = self._blocked_since
            if blocked is not None and time.monotonic() - blocked >= self.stall_timeout:
                break
        lost = sum(_lines_in(data[self._offset if index == 0 else 0 :], dropped)
                   for index, (data, dropped) in enumerate(self._out))
        if lost and not self.broken:
            self._out.clear()
            self._offset = 0
            self._queue_notice(lost, cut=not self._at_line_start)
            _make_room(self._fd, len(self._out[0][0]))
            self._write_some(_POLL)

    def _run(self) -> None:
        """The writer thread: take what is queued, write it as the stream takes it, until closed."""
        if self._fd is not None:
            with contextlib.suppress(OSError, ValueError):  # a closed stream: nothing of it to write
                self.stream.flush()  # anything written through the stream itself goes first
        while not self.broken:
            if not self._out:
                with self._lock:
                    idle = not self._lines and not self._dropped
                    if idle:  # an emit from now on wakes us
                        self._writer_idle = True
                        self._wake.clear()
                if idle:
                    self._wake.wait()
                if self._closing:
                    return
                self._take()
            if self._out:
                self._write_some(_POLL)
            if self._closing:
                return

    def _take(self) -> None:
        """Move the queued lines (and the count of those dropped after them) to the output."""
        with self._lock:
            lines, self._lines, self._queued = self._lines, [], 0
            dropped, self._dropped = self._dropped, 0
        if lines:
            lines.append("")  # for the last newline
            self._out.append(("\n".join(lines).encode(self._encoding, self._errors), 0))
        if dropped:
            self._queue_notice(dropped)

    def _queue_notice(self, dropped: int, *, cut: bool = False) -> None:
        """Queue the line that says ``dropped`` lines were lost (after a newline if one was ``cut``)."""
        notice = self.render(EventKind.DROPPED, {"lines": dropped, "time": round(time.time(), 6)}) + "\n"
        if cut:
            notice = "\n" + notice
        self._out.append((notice.encode(self._encoding, self._errors), dropped))

    def _write_some(self, timeout: float) -> bool:
        """Write the next chunk if the stream takes it within ``timeout`` seconds; True if it did."""
        if self._fd is None:  # not a file (a StringIO in a test): it never blocks
            return self._write_stream()
        if not _writable(self._fd, timeout):
            if self._blocked_since is None:
                self._blocked_since = time.monotonic()
            return False
        first = self._out[0][0]
        if len(first) - self._offset >= CHUNK:
            chunk: bytes | bytearray | memoryview = memoryview(first)[self._offset : self._offset + CHUNK]
        else:
            chunk = bytearray(first[self._offset :])
            for data, _ in itertools.islice(self._out, 1, None):
                if len(chunk) >= CHUNK:
                    break
                chunk += data[: CHUNK - len(chunk)]
        try:
            written = os.write(self._fd, chunk)
        except BlockingIOError:  # the descriptor was made non-blocking by someone else: try again later
            if self._blocked_since is None:
                self._blocked_since = time.monotonic()
            return False
        except OSError:  # EPIPE (the reader went away), EIO (its terminal hung up): the log ends here
            self.broken = True
            return False
        self._blocked_since = None
        self._at_line_start = chunk[written - 1 : written] == b"\n"
        while written:
            data = self._out[0][0]
            step = min(written, len(data) - self._offset)
            written -= step
            self._offset += step
            if self._offset == len(data):
                self._out.popleft()
                self._offset = 0
        return True

    def _write_stream(self) -> bool:
        data = b"".join(data for data, _ in self._out)
        self._out.clear()
        try:
            self.stream.write(data.decode(self._encoding, self._errors))
            self.stream.flush()
        except (OSError, ValueError):  # closed under us, or at interpreter exit
            self.broken = True
        return True


def _lines_in(data: bytes, dropped: int) -> int:
    """How many log lines an unwritten piece of the output stands for (a notice: those it counts)."""
    return dropped or data.count(b"\n")


def _descriptor(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.StringIO, a closed or detached stream
        return None


def _writable(fd: int, timeout: float) -> bool:
    try:
        return bool(select.select([], [fd], [], timeout)[1])
    except (OSError, ValueError):  # select() cannot watch this descriptor (Windows pipes): just write
        return True


def _make_room(fd: int | None, size: int) -> None:
    """Grow a full pipe by at least ``size`` bytes so that a last line fits (Linux; elsewhere nothing)."""
    if fd is None or _writable(fd, 0):
        return
    from netdiag.adapters.platform import grow_pipe

    grow_pipe(fd, max(size, CHUNK))
