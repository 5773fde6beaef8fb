"""The lecture page's server: one static page and a server-sent event stream, standard library only.

Theory of operation. The watch loop (capture or socket listing) calls ``publish(item)``: it appends the
item to a bounded ring and sets an event, nothing else, so 200 students opening the page cannot slow the
capture. A broadcaster thread takes what is new in the ring, encodes each item once (the ``encode``
function the caller gives: the adapter knows nothing of diagrams), keeps the last frames for clients that
join later, and offers each frame to every client's bounded queue. A client whose queue is full (it
reads too slowly) is dropped with a note; one that stops reading entirely is cut off by the socket
timeout. Each SSE client is one thread of a ``ThreadingHTTPServer`` that only copies its queue to its
socket.

Bounds, each with its reason: clients (``max_clients``, default 256: a lecture hall; the next get
503), the ring (``ring_size`` items: a burst larger than that is summarised as "N events skipped"), the
per-client queue (``queue_size`` frames), the replay for new clients (``replay`` frames), and the event
rate (``max_rate`` events per second: the broadcaster paces itself; the ring absorbs the burst).

Safety: GET only (other methods get 405), two paths, no query string is ever read, no CORS header, a
strict Content-Security-Policy. Binding to another address than loopback is the caller's decision
(``netdiag`` asks for ``--web 0.0.0.0:PORT`` explicitly and warns).
"""

from __future__ import annotations

import collections
import errno
import http.server
import itertools
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import NetworkFailure
from netdiag.core.targets import format_endpoint

MAX_CLIENTS = 256
QUEUE_SIZE = 1024
RING_SIZE = 8192
REPLAY = 200
MAX_RATE = 5000.0
KEEPALIVE = 15.0
SOCKET_TIMEOUT = 10.0

_SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; "
                                "style-src 'unsafe-inline'; img-src data:; connect-src 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


@dataclass
class _Client:
    """One connected SSE client: its bounded queue, and why it was dropped (if it was)."""

    frames: queue.Queue[bytes | None]
    address: str
    dropped: str | None = None


@dataclass
class LectureStats:
    """Counters for the bench and the tests (read without locking: they only grow)."""

    published: int = 0
    broadcast: int = 0
    skipped: int = 0
    refused_clients: int = 0
    dropped_clients: int = 0
    served_clients: int = 0
    peak_clients: int = 0
    latencies: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=100_000))


class LectureServer:
    """Serve ``page`` at ``/`` and the published items, encoded, as server-sent events at ``/events``."""

    def __init__(self, page: bytes, encode: Callable[[Any], str], *, host: str = "127.0.0.1",
                 port: int = 0, max_clients: int = MAX_CLIENTS, queue_size: int = QUEUE_SIZE,
                 ring_size: int = RING_SIZE, replay: int = REPLAY, max_rate: float = MAX_RATE) -> None:
        self.page = page
        self.encode = encode
        self.host, self.port = host, port
        self.max_clients, self.queue_size, self.max_rate = max_clients, queue_size, max_rate
        self.stats = LectureStats()
        self._ring: collections.deque[tuple[int, float, Any]] = collections.deque(maxlen=ring_size)
        self._counter = itertools.count(1)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._clients: list[_Client] = []
        self._clients_lock = threading.Lock()
        self._history: collections.deque[bytes] = collections.deque(maxlen=replay)
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- the producer side: O(1), never blocks -------------------------------------------------------

    def publish(self, item: Any) -> None:
        """Hand ``item`` to the broadcaster (the watch loop calls this for every event)."""
        self._ring.append((next(self._counter), time.monotonic(), item))  # deque.append is atomic
        self.stats.published += 1
        self._wake.set()

    # --- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind and start serving; a bind failure is a ``NetworkFailure`` with the reason."""
        server_class = _IPv6Server if ":" in self.host else _Server
        try:
            httpd = server_class((self.host, self.port), _Handler)
        except OSError as exc:
            raise _bind_failure(exc, self.host, self.port) from exc
        httpd.lecture = self
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        for target, name in ((httpd.serve_forever, "lecture-http"), (self._broadcast, "lecture-fanout")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop serving: every client's stream ends, the threads finish."""
        self._stopping.set()
        self._wake.set()
        with self._clients_lock:
            for client in self._clients:
                _offer(client.frames, None)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> LectureServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clients(self) -> int:
        return len(self._clients)

    def url(self, host: str | None = None) -> str:
        shown = host or self.host
        return f"http://{format_endpoint(shown, self.port)}/"

    # --- the broadcaster -----------------------------------------------------------------------------

    def _broadcast(self) -> None:
        last = 0
        while not self._stopping.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            pending = [entry for entry in list(self._ring) if entry[0] > last]
            if not pending:
                continue
            began = time.monotonic()
            if pending[0][0] > last + 1:
                missed = pending[0][0] - last - 1
                self.stats.skipped += missed
                self._fan_out(_frame("note", {"text": f"{missed} events skipped: they came faster "
                                                      "than the page can show them."}))
            for number, stamp, item in pending:
                self._fan_out(_frame("update", item=self.encode(item), number=number))
                self.stats.latencies.append(time.monotonic() - stamp)
            last = pending[-1][0]
            self.stats.broadcast += len(pending)
            pause = len(pending) / self.max_rate - (time.monotonic() - began)
            if pause > 0:
                self._stopping.wait(pause)  # pacing the event rate; the ring holds the burst meanwhile

    def _fan_out(self, frame: bytes) -> None:
        with self._clients_lock:
            self._history.append(frame)
            for client in self._clients:
                if client.dropped is None and not _offer(client.frames, frame):
                    client.dropped = "slow"
                    self.stats.dropped_clients += 1

    # --- clients ---------------------------------------------------------------------------------------

    def _join(self, address: str) -> _Client | None:
        """Register a client with the recent frames queued, or None when the room is full."""
        with self._clients_lock:
            if len(self._clients) >= self.max_clients or self._stopping.is_set():
                self.stats.refused_clients += 1
                return None
            client = _Client(queue.Queue(self.queue_size), address)
            for frame in list(self._history)[-self.queue_size // 2:]:
                client.frames.put_nowait(frame)
            self._clients.append(client)
            self.stats.served_clients += 1
            self.stats.peak_clients = max(self.stats.peak_clients, len(self._clients))
            return client

    def _leave(self, client: _Client) -> None:
        with self._clients_lock:
            if client in self._clients:
                self._clients.remove(client)


def _bind_failure(exc: OSError, host: str, port: int) -> NetworkFailure:
    where = f"Cannot serve the lecture page on {format_endpoint(host, port)}"
    if exc.errno == errno.EADDRINUSE:
        return NetworkFailure(f"{where}: the port is in use. Leave the port out (--web alone picks a "
                              "free one) or choose another.",
                              explanation=explanation_for(Cause.ADDRESS_IN_USE, port=port))
    if exc.errno == errno.EADDRNOTAVAIL:
        return NetworkFailure(f"{where}: {host} is not an address of this machine.",
                              explanation=explanation_for(Cause.ADDRESS_NOT_LOCAL, port=port))
    return NetworkFailure(f"{where}: {exc.strerror or exc}.", explanation=explanation_for(Cause.UNKNOWN))


def _offer(frames: queue.Queue[bytes | None], frame: bytes | None) -> bool:
    try:
        frames.put_nowait(frame)
    except queue.Full:
        return False
    return True


def _frame(event: str, data: dict[str, Any] | None = None, *, item: str | None = None,
           number: int | None = None) -> bytes:
    """One server-sent event: ``id`` (the publish number), ``event`` and one ``data`` line of JSON."""
    body = item if item is not None else json.dumps(data)
    head = f"id: {number}\n" if number is not None else ""
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # a room that opens the page at once must not fill the accept backlog
    lecture: LectureServer


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET / (the page), GET /events (the stream); everything else is refused. Never reads a query."""

    server: _Server
    timeout = SOCKET_TIMEOUT
    protocol_version = "HTTP/1.1"
    server_version = "netdiag-lecture"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal belongs to the diagram."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, self.server.lecture.page, "text/html; charset=utf-8")
        elif path == "/events":
            self._stream()
        else:
            self._send(404, b"Not found: this server has / and /events only.\n", "text/plain")

    def _refuse_method(self) -> None:
        self._send(405, b"Read-only: this server answers GET only.\n", "text/plain", [("Allow", "GET")])

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_CONNECT = do_TRACE = _refuse_method

    def _send(self, status: int, body: bytes, content_type: str,
              extra: list[tuple[str, str]] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (*_SECURITY_HEADERS, *(extra or [])):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _stream(self) -> None:
        lecture = self.server.lecture
        client = lecture._join(self.client_address[0])
        if client is None:
            self._send(503, b"The lecture page has as many viewers as it serves; try again later.\n",
                       "text/plain", [("Retry-After", "10"), ("Connection", "close")])
            self.close_connection = True
            return
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            for name, value in _SECURITY_HEADERS:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"retry: 2000\n\n")
            self.wfile.flush()
            self._copy(client)
        except (ConnectionError, TimeoutError):
            pass  # the viewer left or stopped reading: its thread ends, nobody else notices
        finally:
            lecture._leave(client)

    def _copy(self, client: _Client) -> None:
        while True:
            try:
                frame = client.frames.get(timeout=KEEPALIVE)
            except queue.Empty:
                frame = b": keep-alive\n\n"
            if client.dropped is not None:
                self.wfile.write(_frame("note", {"text": "This page fell behind the events and was "
                                                         "disconnected; it reconnects by itself."}))
                return
            if frame is None:
                return
            self.wfile.write(frame)
            self.wfile.flush()
