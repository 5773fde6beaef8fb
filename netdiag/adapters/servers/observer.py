"""``netdiag listen --observe``: the server's side of the connections that failed before ``accept``.

The capture runs in a process of its own (``netdiag.adapters.capture.attempt``: scapy's decoding must not
take the server's CPU); this side starts it once the port is known, turns each JSON line it writes into
an event of the server's log, and stops it before the server logs ``shutdown``. Without capture
privileges nothing is started: the caller says once what cannot be seen, and the server serves as usual.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable

from netdiag.core.protocols.events import EventKind

from .eventlog import EventLog

STOP_TIMEOUT = 2.0
"""Seconds the observer gets to write its last summaries when the server stops."""
_KINDS = {kind.value: kind for kind in (EventKind.OBSERVING, EventKind.UNANSWERED_SYN,
                                        EventKind.HANDSHAKE_INCOMPLETE, EventKind.RESET_SENT,
                                        EventKind.REPEATED)}


class Observer:
    """The capture process of one server and the thread that copies its reports into the event log."""

    def __init__(self, log: EventLog, warn: Callable[[str], None]) -> None:
        """``warn`` takes a sentence about the capture (the CLI says which option it is about)."""
        self.log = log
        self.warn = warn
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self, port: int, bound: str) -> None:
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "netdiag.adapters.capture.attempt", str(port), bound],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        except OSError as exc:
            self.warn(f"the capture could not start ({exc.strerror or exc}); the server runs "
                      "as usual.")
            return
        self._reader = threading.Thread(target=self._copy, name="netdiag-observer", daemon=True)
        self._reader.start()

    def _copy(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            for line in process.stdout:
                try:
                    message = json.loads(line)
                    kind = message.pop("kind")
                except (ValueError, KeyError, AttributeError):
                    continue
                if kind == "unavailable":
                    self.warn(f"cannot capture ({message.get('reason')}); the server runs as "
                              "usual.")
                elif kind in _KINDS:
                    self.log.emit(_KINDS[kind], **message)

    def stop(self) -> None:
        """Close the observer's stdin (its signal to end), copy its last lines, wait for it (bounded)."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT)
        if process.stdout is not None:
            with contextlib.suppress(OSError, ValueError):
                process.stdout.close()
