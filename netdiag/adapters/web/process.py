"""The lecture server in a process of its own, so the page's work never competes with the capture.

Measured (bench/lecture.py, 200 viewers, 1,000 connections): with the server as threads of the watch
process, the terminal's latency went from milliseconds to seconds, because rendering and sending to 200
viewers held the interpreter the capture thread needed. Here the watch process keeps only a bounded ring
and a feeder thread that pickles what is new and writes it to a pipe; a second interpreter (``spawn``,
never ``fork``: the watch has threads and open packet sockets) runs ``LectureServer``, encodes each item
and serves the viewers. If that process falls behind, the pipe fills, the feeder waits, and the ring
drops the oldest items: the capture never waits.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import NetworkFailure

RING_SIZE = 8192
READY_TIMEOUT = 30.0


def _serve(conn: Connection, page: bytes, encode: Callable[[Any], str], host: str, port: int) -> None:
    """The child: serve until the parent sends None or goes away (Ctrl-C is the parent's business)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from netdiag.adapters.web.server import LectureServer

    server = LectureServer(page, encode, host=host, port=port)
    try:
        server.start()
    except NetworkFailure as failure:
        conn.send(("error", str(failure), failure.explanation))
        return
    conn.send(("ready", server.port, None))
    try:
        while True:
            batch = conn.recv()
            if batch is None:
                break
            for item in batch:
                server.publish(item)
    except (EOFError, OSError):
        pass  # the watch ended without saying so: nothing left to serve
    finally:
        server.close()


class LectureProcess:
    """``publish(item)`` in the watch process; the page served from a child process (see the module)."""

    def __init__(self, page: bytes, encode: Callable[[Any], str], *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.page, self.encode, self.host, self.port = page, encode, host, port
        self._ring: collections.deque[Any] = collections.deque(maxlen=RING_SIZE)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._conn: Connection | None = None
        self._process: Any = None
        self._feeder: threading.Thread | None = None
        self.dropped = 0

    def publish(self, item: Any) -> None:
        if len(self._ring) == self._ring.maxlen:
            self.dropped += 1
        self._ring.append(item)  # atomic; the feeder thread does the rest
        self._wake.set()

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_serve, name="netdiag-lecture", daemon=True,
                                        args=(child, self.page, self.encode, self.host, self.port))
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(READY_TIMEOUT):
            self._process.kill()
            raise NetworkFailure("The lecture page's server did not start within "
                                 f"{READY_TIMEOUT:.0f} s.", explanation=explanation_for(Cause.UNKNOWN))
        try:
            status, value, explanation = parent.recv()
        except EOFError as exc:
            raise NetworkFailure("The lecture page's server stopped as it started.",
                                 explanation=explanation_for(Cause.UNKNOWN)) from exc
        if status == "error":
            self._process.join(5)
            raise NetworkFailure(value, explanation=explanation)
        self.port = int(value)
        self._feeder = threading.Thread(target=self._feed, name="lecture-feeder", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        assert self._conn is not None
        while not self._stopping.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            batch = []
            while self._ring:
                batch.append(self._ring.popleft())
            if not batch:
                continue
            try:
                self._conn.send(batch)
            except (OSError, ValueError):
                return  # the server process is gone: the watch goes on without its page

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._feeder is not None:
            self._feeder.join(5)
        if self._conn is not None:
            with contextlib.suppress(OSError, ValueError):  # already gone
                self._conn.send(None)
            self._conn.close()
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)

    def url(self, host: str | None = None) -> str:
        from netdiag.core.targets import format_endpoint

        return f"http://{format_endpoint(host or self.host, self.port)}/"
