"""The lecture page's server: one static page and a server-sent event stream, standard library only.

Theory of operation. The watch loop (capture or socket listing) calls ``publish(item)``: it appends the
item to a bounded ring and wakes the broadcaster, nothing else. One broadcaster thread does all the
fan-out: it takes what is new in the ring, encodes each item once (the ``encode`` function the caller
gives: the adapter knows nothing of diagrams), keeps the last frames for viewers who join later, appends
each frame to every viewer's bounded output buffer and writes those buffers to non-blocking sockets as
they drain. A ``ThreadingHTTPServer`` thread only
answers the request line and hands the socket over, so however many viewers there are, one thread sends
to them. The watch commands run this server in a process of its own (``netdiag.adapters.web.process``),
so even that thread never competes with the capture (measured with 200 viewers: docs/performance.md).

Bounds, each with its reason: viewers (``max_clients``, default 256: a lecture hall; the next get 503),
the ring (``ring_size`` items: a burst larger than that is summarised as "N events skipped"), each
viewer's unsent output (``client_buffer`` bytes: a viewer that reads too slowly is dropped with a note;
its browser reconnects), the replay for new viewers (``replay`` frames), and the event rate
(``max_rate`` events per second: the broadcaster paces itself; the ring absorbs the burst).

Safety: GET only (other methods get 405), two paths, no query string is ever read, no CORS header, a
strict Content-Security-Policy. Binding to another address than loopback is the caller's decision
(``netdiag`` asks for ``--web 0.0.0.0:PORT`` explicitly and warns).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import http.server
import itertools
import json
import selectors
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
CLIENT_BUFFER = 2**20
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
_SLOW_NOTE = {"text": "This page fell behind the events and was disconnected; it reconnects by itself."}


@dataclass(eq=False)
class _Viewer:
    """One SSE viewer: its socket (non-blocking, owned by the broadcaster) and what is not sent yet."""

    sock: socket.socket
    pending: bytearray = field(default_factory=bytearray)


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


class LectureServer:
    """Serve ``page`` at ``/`` and the published items, encoded, as server-sent events at ``/events``."""

    def __init__(self, page: bytes, encode: Callable[[Any], str], *, host: str = "127.0.0.1",
                 port: int = 0, max_clients: int = MAX_CLIENTS, client_buffer: int = CLIENT_BUFFER,
                 ring_size: int = RING_SIZE, replay: int = REPLAY, max_rate: float = MAX_RATE) -> None:
        self.page = page
        self.encode = encode
        self.host, self.port = host, port
        self.max_clients, self.client_buffer, self.max_rate = max_clients, client_buffer, max_rate
        self.stats = LectureStats()
        self._ring: collections.deque[tuple[int, Any]] = collections.deque(maxlen=ring_size)
        self._counter = itertools.count(1)
        self._stopping = threading.Event()
        self._viewers: set[_Viewer] = set()
        self._arriving: collections.deque[_Viewer] = collections.deque()
        self._admitted = 0  # viewers being handed over plus viewers served: the number max_clients bounds
        self._admit_lock = threading.Lock()
        self._history: collections.deque[bytes] = collections.deque(maxlen=replay)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._httpd: _Server | None = None
        self._threads: list[threading.Thread] = []

    # --- the producer side: O(1), never blocks -------------------------------------------------------

    def publish(self, item: Any) -> None:
        """Hand ``item`` to the broadcaster (the watch loop calls this for every event)."""
        self._ring.append((next(self._counter), item))  # deque.append is atomic
        self.stats.published += 1
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full of wake-ups (BlockingIOError): it is awake anyway
            self._wake_w.send(b"!")

    # --- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind and start serving; a bind failure is a ``NetworkFailure`` with the reason."""
        server_class = _IPv6Server if ":" in self.host else _Server
        try:
            httpd = server_class((self.host, self.port), _Handler)
        except OSError as exc:
            raise _bind_failure(exc, self.host, self.port) from exc
        httpd.lecture = self
        httpd.handed_over = set()
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        for target, name in ((httpd.serve_forever, "lecture-http"), (self._broadcast, "lecture-fanout")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop serving: every viewer's stream ends, the threads finish."""
        self._stopping.set()
        self._wake()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(5)
        for viewer in list(self._viewers) + list(self._arriving):
            viewer.sock.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> LectureServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clients(self) -> int:
        return len(self._viewers)

    def url(self, host: str | None = None) -> str:
        shown = host or self.host
        return f"http://{format_endpoint(shown, self.port)}/"

    # --- admission (HTTP threads) --------------------------------------------------------------------

    def _admit(self) -> bool:
        with self._admit_lock:
            if self._admitted >= self.max_clients or self._stopping.is_set():
                self.stats.refused_clients += 1
                return False
            self._admitted += 1
            return True

    def _hand_over(self, sock: socket.socket) -> None:
        """The HTTP thread sent the headers; from now on the broadcaster owns the socket."""
        sock.setblocking(False)
        self._arriving.append(_Viewer(sock))
        self._wake()

    def _release(self) -> None:
        with self._admit_lock:
            self._admitted -= 1

    # --- the broadcaster -----------------------------------------------------------------------------

    def _broadcast(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        last = 0
        quiet_since = time.monotonic()
        while not self._stopping.is_set():
            for key, mask in selector.select(KEEPALIVE / 3):
                if key.data is None:
                    self._drain_wakeups()
                elif mask & selectors.EVENT_READ:
                    self._drop(selector, key.data, None)  # a viewer never sends: this is its goodbye
                elif mask & selectors.EVENT_WRITE:
                    self._send(selector, key.data)
            while self._arriving:
                self._welcome(selector, self._arriving.popleft())
            pending = [entry for entry in list(self._ring) if entry[0] > last]
            began = time.monotonic()
            if pending:
                if pending[0][0] > last + 1:
                    missed = pending[0][0] - last - 1
                    self.stats.skipped += missed
                    self._fan_out(selector, _frame("note", {"text": f"{missed} events skipped: they came "
                                                                    "faster than the page can show them."}))
                for number, item in pending:
                    self._fan_out(selector, _frame("update", item=self.encode(item), number=number))
                last = pending[-1][0]
                self.stats.broadcast += len(pending)
                quiet_since = began
            elif began - quiet_since > KEEPALIVE:
                self._fan_out(selector, b": keep-alive\n\n", keep=False)
                quiet_since = began
            for viewer in list(self._viewers):  # one send per viewer for the whole batch
                if viewer.pending:
                    self._send(selector, viewer)
            pause = len(pending) / self.max_rate - (time.monotonic() - began)
            if pause > 0:
                self._stopping.wait(pause)  # pacing the event rate; the ring holds the burst meanwhile
        selector.close()

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: drained
            while self._wake_r.recv(4096):
                pass

    def _welcome(self, selector: selectors.BaseSelector, viewer: _Viewer) -> None:
        self._viewers.add(viewer)
        self.stats.served_clients += 1
        self.stats.peak_clients = max(self.stats.peak_clients, len(self._viewers))
        recent: list[bytes] = []
        room = self.client_buffer // 2  # the latest frames that fit, leaving room for live ones
        for frame in reversed(self._history):
            if len(frame) > room:
                break
            recent.append(frame)
            room -= len(frame)
        for frame in reversed(recent):
            viewer.pending += frame
        selector.register(viewer.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, viewer)

    def _fan_out(self, selector: selectors.BaseSelector, frame: bytes, keep: bool = True) -> None:
        if keep:
            self._history.append(frame)
        for viewer in list(self._viewers):
            if len(viewer.pending) + len(frame) > self.client_buffer:
                self.stats.dropped_clients += 1
                self._drop(selector, viewer, _frame("note", _SLOW_NOTE))
                continue
            viewer.pending += frame

    def _send(self, selector: selectors.BaseSelector, viewer: _Viewer) -> None:
        try:
            sent = viewer.sock.send(viewer.pending)
        except BlockingIOError:
            sent = 0
        except OSError:  # reset, broken pipe: the viewer left
            self._drop(selector, viewer, None)
            return
        del viewer.pending[:sent]
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if viewer.pending else 0)
        selector.modify(viewer.sock, wanted, viewer)

    def _drop(self, selector: selectors.BaseSelector, viewer: _Viewer, goodbye: bytes | None) -> None:
        if viewer not in self._viewers:
            return
        self._viewers.discard(viewer)
        selector.unregister(viewer.sock)
        if goodbye is not None:
            with contextlib.suppress(OSError):  # best effort: it was too slow to read anyway
                viewer.sock.send(goodbye)
        viewer.sock.close()
        self._release()


def _bind_failure(exc: OSError, host: str, port: int) -> NetworkFailure:
    where = f"Cannot serve the lecture page on {format_endpoint(host, port)}"
    if exc.errno == errno.EADDRINUSE:
        return NetworkFailure(f"{where}: the port is in use.",
                              explanation=explanation_for(Cause.ADDRESS_IN_USE, port=port))
    if exc.errno == errno.EADDRNOTAVAIL:
        return NetworkFailure(f"{where}: {host} is not an address of this machine.",
                              explanation=explanation_for(Cause.ADDRESS_NOT_LOCAL, port=port))
    return NetworkFailure(f"{where}: {exc.strerror or exc}.", explanation=explanation_for(Cause.UNKNOWN))


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
    handed_over: set[socket.socket]

    def shutdown_request(self, request: Any) -> None:
        """Leave a handed-over event stream open: the broadcaster owns it now."""
        if request in self.handed_over:
            self.handed_over.discard(request)
            return
        super().shutdown_request(request)


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
        self.close_connection = True
        if not lecture._admit():
            self._send(503, b"The lecture page has as many viewers as it serves; try again later.\n",
                       "text/plain", [("Retry-After", "10"), ("Connection", "close")])
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            for name, value in _SECURITY_HEADERS:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"retry: 2000\n\n")
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            lecture._release()
            return
        self.server.handed_over.add(self.connection)
        lecture._hand_over(self.connection)
