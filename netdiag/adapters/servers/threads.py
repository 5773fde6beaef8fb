"""The thread engine (``--engine threads``): one thread per client, as in the classic lab.

Deliberately plain so it can be shown next to the lab's code: ``accept()`` in a loop, one thread per
connection doing blocking ``recv()`` and ``sendall()``. It drives the same sans-I/O handlers as the asyncio
engine, so the two behave the same and only the concurrency model differs.

Chat needs two more things than the lab shows: a lock around the shared room, and a writer thread with a
bounded outbox per client, so a client that stops reading is dropped (``slow-reader``) instead of
blocking the thread of whoever is talking. A burst of lines is worked through a slice at a time, and the
client's thread steps aside between slices (``work_through``) so the writers and the others' threads run.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from types import FrameType

from netdiag.core.protocols.actions import CloseReason
from netdiag.core.protocols.datagrams import datagram_answer
from netdiag.core.protocols.events import TEXT_LIMIT, EventKind
from netdiag.core.protocols.handlers import refusal_notice
from netdiag.core.protocols.text import printable

from .aio import LINGER, SHUTDOWN_GRACE, peer_name
from .eventlog import EventLog
from .settings import ServerSettings
from .shared import Server, end_connection

POLL = 0.1
"""How often the accept loop looks at the stop flag (seconds); bounds shutdown latency."""
RECV_SIZE = 65536


class Outbox:
    """A bounded queue of bytes for one chat client, drained by its writer thread."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self.items: deque[bytes | None] = deque()
        self.ready = threading.Condition()

    def put(self, data: bytes | None) -> bool:
        """Queue ``data`` (``None``: close after the rest); False when over the limit."""
        with self.ready:
            if data is not None and self.size + len(data) > self.limit:
                return False
            self.items.append(data)
            self.size += len(data or b"")
            self.ready.notify()
            return True

    def get(self) -> bytes | None:
        """Everything queued, joined into one write (``None`` once only the end is left)."""
        with self.ready:
            while not self.items:
                self.ready.wait()
            chunks: list[bytes] = []
            while self.items and (item := self.items[0]) is not None:
                chunks.append(item)
                self.items.popleft()
            if not chunks:
                return self.items.popleft()
            data = b"".join(chunks)
            self.size -= len(data)
            return data


class ThreadServer(Server["ThreadConnection"]):
    """One server's state (``shared.Server``), plus the listening socket, a lock and the threads."""

    def __init__(self, sock: socket.socket, settings: ServerSettings, log: EventLog) -> None:
        super().__init__(settings, log)
        self.sock = sock
        self.lock = threading.RLock()  # guards connections and every handler call (the room is shared)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def find(self, conn_id: int) -> ThreadConnection | None:
        with self.lock:
            return self.connections.get(conn_id)

    def serve_forever(self) -> int:
        """Accept until told to stop, one thread per client; return how many were open at the end."""
        self.sock.settimeout(POLL)
        while not self.stop.is_set():
            try:
                client, address = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:  # EMFILE and friends: the client waits in the backlog; try again
                self.stop.wait(POLL)
                continue
            self.start_client(client, peer_name(address))
        self.sock.close()
        return self.shut_down()

    def start_client(self, client: socket.socket, peer: str) -> None:
        client.settimeout(None)
        # No Nagle, as on both asyncio loops: a chat line written behind an unacknowledged one would wait
        # for the client's delayed ACK (40 ms) - every relay during a burst did.
        with contextlib.suppress(OSError):
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            full = not self.take_slot()
            if not full:
                conn = ThreadConnection(self, client, next(self.ids), peer)
                self.connections[conn.conn_id] = conn
        if full:
            self.refuse(client, peer)
            return
        started = [threading.Thread(target=conn.run, name=f"client {peer}", daemon=True)]
        if conn.outbox is not None:
            started.append(threading.Thread(target=conn.write_loop, name=f"writer {peer}", daemon=True))
        self.threads = [t for t in self.threads if t.is_alive()] + started
        for thread in started:
            thread.start()

    def refuse(self, client: socket.socket, peer: str) -> None:
        with contextlib.suppress(OSError):
            client.sendall(refusal_notice(self.settings.max_clients))
        client.close()
        self.log.emit(EventKind.REFUSED, peer=peer, reason=CloseReason.MAX_CLIENTS.value)

    def shut_down(self) -> int:
        with self.lock:
            open_now = list(self.connections.values())
        for conn in open_now:
            with self.lock:
                actions = conn.handler.closing(CloseReason.SHUTDOWN)
            self.perform(conn, actions)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for thread in list(self.threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return len(open_now)


class ThreadConnection:
    def __init__(self, server: ThreadServer, sock: socket.socket, conn_id: int, peer: str) -> None:
        self.server, self.sock, self.conn_id, self.peer = server, sock, conn_id, peer
        self.log = server.log
        self.closed = False
        self.reason = CloseReason.EOF
        self.handler = server.handler_for(conn_id, peer)
        self.outbox = Outbox(server.settings.max_queue) if server.room is not None else None
        self.send_lock = threading.Lock()
        self.state_lock = threading.Lock()

    def run(self) -> None:
        """The client's thread: greet, then recv -> handler -> send until either side closes."""
        server = self.server
        if self.log.verbose:
            self.log.emit(EventKind.CONNECT, peer=self.peer)
        if server.settings.idle_timeout is not None:
            self.sock.settimeout(server.settings.idle_timeout)
        try:
            with server.lock:
                actions = self.handler.connected()
            server.perform(self, actions)
            self.read_loop()
            if self.reason is CloseReason.LINE_TOO_LONG:
                self.drain()
        finally:
            self.finish()

    def drain(self) -> None:
        """Read and discard until the client closes, for at most ``LINGER`` seconds: closing with unread
        input would make the kernel send RST, and the client might never read why it was cut off."""
        deadline = time.monotonic() + LINGER
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self.sock.recv(RECV_SIZE):
                    return
        except OSError:  # timeout, reset, or the writer already released the socket
            pass

    def read_loop(self) -> None:
        server = self.server
        while not self.closed:
            try:
                data = self.sock.recv(RECV_SIZE)
            except TimeoutError:
                with server.lock:
                    actions = self.handler.closing(CloseReason.IDLE_TIMEOUT)
                server.perform(self, actions)
                return
            except OSError:  # ECONNRESET, or our own shutdown() from another thread
                self.lost_by_client(reset=True)
                return
            if self.closed:
                return
            if not data:
                with server.lock:
                    actions = self.handler.ended()
                server.perform(self, actions)
                self.work_through()
                return
            if self.log.verbose:
                self.log.emit(EventKind.RECV, peer=self.peer, bytes=len(data),
                              text=printable(data[:TEXT_LIMIT], limit=TEXT_LIMIT))
            with server.lock:
                actions = self.handler.received(data)
            server.perform(self, actions)
            self.work_through()

    def work_through(self) -> None:
        """A burst: the rest of what was read, a slice at a time, stepping aside between slices (the
        GIL and the room's lock go to the others' threads and to the writers, which drain their outboxes
        instead of watching them fill); nothing more is read from this client meanwhile."""
        server = self.server
        while not self.closed and self.handler.pending:
            time.sleep(0)  # yield the GIL: switching otherwise waits for the interpreter's 5 ms interval
            with server.lock:
                actions = self.handler.resume()
            server.perform(self, actions)

    def mark_closed(self, reason: CloseReason) -> bool:
        """Record the end once (reader, writer and other clients' threads may all notice it)."""
        with self.state_lock:
            if self.closed:
                return False
            self.closed, self.reason = True, reason
            return True

    def lost_by_client(self, *, reset: bool) -> None:
        if self.mark_closed(CloseReason.RESET if reset else CloseReason.EOF):
            end_connection(self.server, self.peer, self.reason, reset=reset)

    def finish(self) -> None:
        """Leave the room and forget this connection; the socket closes once the writer is done."""
        server = self.server
        if self.mark_closed(CloseReason.ERROR):  # every way out of read_loop closes first: a guard
            end_connection(server, self.peer, self.reason)
        with server.lock:
            server.connections.pop(self.conn_id, None)
            actions = self.handler.lost(self.reason)
        server.perform(None, actions)
        if self.outbox is None:
            self.release()
        else:
            self.outbox.put(None)

    def send(self, data: bytes) -> None:
        if self.outbox is not None:
            if not self.outbox.put(data):
                self.close(CloseReason.SLOW_READER, abort=True)
                return
        else:
            try:
                with self.send_lock:
                    self.sock.sendall(data)
            except TimeoutError:  # blocked for --idle-timeout: it reads nothing of what we send
                self.close(CloseReason.SLOW_READER, abort=True)
                return
            except OSError:
                self.lost_by_client(reset=True)
                return
        if self.log.verbose:
            self.log.emit(EventKind.SEND, peer=self.peer, bytes=len(data))

    def write_loop(self) -> None:
        """Chat only: drain the outbox to the socket; ``None`` means everything is written, close."""
        assert self.outbox is not None
        while (data := self.outbox.get()) is not None:
            try:
                self.sock.sendall(data)
            except TimeoutError:  # blocked for --idle-timeout: it reads nothing of what we send
                self.close(CloseReason.SLOW_READER, abort=True)
                break
            except OSError:  # reset or gone: stop queueing for it (release() wakes the reader)
                self.lost_by_client(reset=True)
                break
        self.release()

    def close(self, reason: CloseReason, *, abort: bool = False) -> None:
        """End the connection from the server side; the reader thread wakes up and finishes."""
        if not self.mark_closed(reason):
            return
        end_connection(self.server, self.peer, reason)
        if reason is CloseReason.LINE_TOO_LONG and not abort:
            # The reader thread (ours: the limit was found in what it read) lingers in drain(). Without
            # an outbox the notice is written already, so FIN now; with one, the writer sends the notice
            # and FIN follows once drain() is over (finish() queues the end).
            if self.outbox is not None:
                return
            how = socket.SHUT_WR
        else:
            how = socket.SHUT_RDWR if abort or self.outbox is None else socket.SHUT_RD
        with contextlib.suppress(OSError):
            self.sock.shutdown(how)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def serve(sock: socket.socket, settings: ServerSettings, log: EventLog, announce: Callable[[], None]) -> int:
    """Run the thread engine until SIGINT/SIGTERM; return the number of connections closed at the end."""
    if settings.udp:
        return serve_udp(sock, settings, log, announce)
    server = ThreadServer(sock, settings, log)
    _stop_on_signals(server.stop)
    announce()
    return server.serve_forever()


def serve_udp(sock: socket.socket, settings: ServerSettings, log: EventLog,
              announce: Callable[[], None]) -> int:
    stop = threading.Event()
    _stop_on_signals(stop)
    sock.settimeout(POLL)
    announce()
    while not stop.is_set():
        try:
            data, address = sock.recvfrom(RECV_SIZE)
        except TimeoutError:
            continue
        except OSError:  # ICMP error for an earlier reply: the client went away
            continue
        peer = peer_name(address)
        if log.verbose:
            log.emit(EventKind.DATAGRAM, peer=peer, bytes=len(data),
                     text=printable(data[:TEXT_LIMIT], limit=TEXT_LIMIT))
        answer = datagram_answer(settings.mode, data)
        if answer is not None:
            try:
                sock.sendto(answer, address)
            except OSError:
                continue
            if log.verbose:
                log.emit(EventKind.SEND, peer=peer, bytes=len(answer))
    sock.close()
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
