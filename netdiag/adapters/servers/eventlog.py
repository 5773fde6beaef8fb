"""Writes the server's events to stdout (human or JSON lines), safely from any thread.

``quiet`` keeps only ``listening`` and ``shutdown`` (benchmarks: the log is not what they measure).
A reader that goes away (``netdiag listen | head``) stops the log, never the server.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from netdiag.core.protocols.events import EventKind, to_human, to_json
from netdiag.core.protocols.options import LogFormat

MAX_PENDING = 10_000
"""Lines emitted but not yet written before emitting threads wait for the writer."""


class EventLog:
    """Many threads emit, one at a time writes.

    Writing is a system call that releases the interpreter lock; a lock held across it made every other
    emitting thread queue behind it (the thread engine's chat room logs thousands of deliveries at once,
    and a shutdown waited for them one write at a time). So ``emit`` only appends the line; whichever
    thread finds the writer free writes everything pending in one go, and the others return at once.
    Past ``max_pending`` lines (a reader that stopped reading: a paused terminal) emitting waits for
    the writer again, so a stalled log slows the server down instead of filling its memory.
    """

    def __init__(self, fmt: LogFormat, *, quiet: bool = False, stream: TextIO | None = None,
                 max_pending: int = MAX_PENDING) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.render = to_json if fmt is LogFormat.JSON else to_human
        self.verbose = not quiet
        self.broken = False
        self.max_pending = max_pending
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()
        self._writer = threading.Lock()

    def emit(self, kind: EventKind, **fields: Any) -> None:
        """Log one event (``time`` is added here); per-client events are skipped when quiet."""
        if self.broken:
            return
        line = self.render(kind, {**fields, "time": round(time.time(), 6)})
        with self._pending_lock:
            self._pending.append(line)
            full = len(self._pending) > self.max_pending
        self._write_pending(wait=full)

    def flush(self) -> None:
        """Return once every event emitted so far is written (before the process exits)."""
        self._write_pending(wait=True)

    def _write_pending(self, *, wait: bool) -> None:
        # Checked again after each release: a line appended while another thread was writing (and whose
        # own attempt to write found the writer busy) is written by that other thread's next round.
        while self._pending and self._writer.acquire(blocking=wait):
            try:
                with self._pending_lock:
                    lines, self._pending = self._pending, []
                if lines:  # another writer may have taken them between our look and our turn
                    self._write(lines)
            finally:
                self._writer.release()

    def _write(self, lines: list[str]) -> None:
        if self.broken:
            return
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.broken = True
        except ValueError:  # stream closed under us at interpreter exit
            self.broken = True
