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


class EventLog:
    def __init__(self, fmt: LogFormat, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.render = to_json if fmt is LogFormat.JSON else to_human
        self.verbose = not quiet
        self.broken = False
        self._lock = threading.Lock()

    def emit(self, kind: EventKind, **fields: Any) -> None:
        """Write one event (``time`` is added here); per-client events are skipped when quiet."""
        if self.broken:
            return
        line = self.render(kind, {**fields, "time": round(time.time(), 6)})
        with self._lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except BrokenPipeError:
                self.broken = True
            except ValueError:  # stream closed under us at interpreter exit
                self.broken = True
