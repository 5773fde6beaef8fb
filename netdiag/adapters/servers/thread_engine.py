"""The thread engine (``--engine threads``): one thread per client, as in the classic lab.

Deliberately plain so it can be shown next to the lab's code: ``accept()`` in a loop, one thread per
connection doing blocking ``recv()`` and ``sendall()``. It drives the same sans-I/O handlers as the asyncio
engine, so the two behave the same and only the concurrency model differs.

Chat needs more than the lab shows: a lock around the shared room, and deliveries that never wait for
the member they go to. Whoever speaks writes each line to each member's socket itself, without blocking
(the kernel takes it, or says that member's buffer is full); only what a full buffer cannot take goes to
that member's bounded outbox, written by a writer thread that lives while the backlog does. A member
that stops reading is dropped once ``--max-queue`` bytes wait for it (``slow-reader``). The first design
gave every member a writer thread for good: each line woke one thread per member, and a room of 1,500
spent its time switching between 3,000 threads (joining took minutes, SIGTERM was not heard for seconds).

Threads are not free: each one counts against the system's limit on tasks (``RLIMIT_NPROC``, a
container's ``pids.max``, systemd's ``TasksMax``) and reserves a stack. Client threads run shallow code,
so their stacks are ``STACK_SIZE``; a client whose thread cannot start is refused like one over
``--max-clients`` (``refused``, reason ``thread-limit``) and the server goes on.
A burst of lines is worked through a slice at a time, and the client's thread steps aside between
slices (``work_through``) so the others' threads run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from types import FrameType

from netdiag.adapters import platform
from netdiag.core.protocols.actions import CloseReason, Send
from netdiag.core.protocols.datagrams import datagram_answer
from netdiag.core.protocols.events import TEXT_LIMIT, EventKind, ServerWarning, ShortageKind
from netdiag.core.protocols.handlers import refusal_notice, shutting_down_notice, thread_limit_notice
from netdiag.core.protocols.text import printable

from .eventlog import EventLog
from .settings import CLOSE_GRACE, LINGER, SHUTDOWN_GRACE, WARN_EVERY, ServerSettings
from .shared import Server, end_connection, peer_name

POLL = 0.1
"""How often the accept loop looks at the stop flag (seconds); bounds shutdown latency."""
RECV_SIZE = 65536
"""Bytes asked of each ``recv()``. Python allocates that much before the call and keeps it while the call
waits, so each client's thread first waits with a one-byte ``MSG_PEEK``: a thousand idle clients held up
to 64 MiB waiting for input (in a chat room of 400, three quarters of what the engine allocated)."""
STACK_SIZE = 256 * 1024
"""Stack of each thread the engine starts (the platform default is often 8 MiB of address space)."""
DONTWAIT = platform.dontwait_flag()
"""``send()`` flag for one call that must not block; where it is missing (Windows) every chat line goes
through the member's outbox and writer thread."""


class Outbox:
    """What a chat member's socket could not take yet, and whether a writer thread is writing it.

    While ``writing`` is true new lines queue behind the backlog (written directly, they would overtake
    it); the writer clears it, under ``lock``, once the backlog is written. ``ending``: the connection is
    over, release the socket after the backlog. ``lock`` also orders writes and the socket's release.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self.items: deque[bytes] = deque()
        self.writing = self.ending = False
        self.lock = threading.Lock()

    def take(self) -> bytes:
        data = b"".join(self.items)
        self.items.clear()
        self.size = 0
        return data


class ThreadServer(Server["ThreadConnection"]):
    """One server's state (``shared.Server``), plus the listening socket, a lock and the threads."""

    def __init__(self, sock: socket.socket, settings: ServerSettings, log: EventLog,
                 warn: Callable[[ServerWarning], None] | None = None) -> None:
        super().__init__(settings, log)
        self.sock = sock
        self.lock = threading.RLock()  # guards connections and every handler call (the room is shared)
        self.stop = threading.Event()
        self.threads: set[threading.Thread] = set()  # each thread removes itself when it ends
        self.warn = warn
        self.warned_at = -WARN_EVERY

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
        if self.stop.is_set():  # accepted just as SIGINT/SIGTERM arrived
            self.refuse(client, peer, CloseReason.SHUTDOWN)
            return
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
            self.refuse(client, peer, CloseReason.MAX_CLIENTS)
        elif not self.start_thread(conn.run, f"client {peer}"):
            with self.lock:
                self.connections.pop(conn.conn_id, None)
            self.free_slot()
            self.refuse(client, peer, CloseReason.THREAD_LIMIT)

    def start_thread(self, work: Callable[[], None], name: str) -> bool:
        """Run ``work`` on a new thread; False (and a warning) when the system allows no more threads."""
        def run() -> None:
            try:
                work()
            finally:
                self.threads.discard(thread)

        thread = threading.Thread(target=run, name=name, daemon=True)
        self.threads.add(thread)
        try:
            thread.start()
        except RuntimeError as exc:  # "can't start new thread": RLIMIT_NPROC, pids.max, TasksMax, memory
            self.threads.discard(thread)
            self.out_of_threads(exc)
            return False
        return True

    def out_of_threads(self, exc: RuntimeError) -> None:
        now = time.monotonic()
        if self.warn is None or now - self.warned_at < WARN_EVERY:
            return
        self.warned_at = now
        self.warn(ServerWarning(ShortageKind.OUT_OF_THREADS, str(exc)))

    def refuse(self, client: socket.socket, peer: str, reason: CloseReason) -> None:
        notices = {CloseReason.MAX_CLIENTS: lambda: refusal_notice(self.settings.max_clients),
                   CloseReason.SHUTDOWN: shutting_down_notice, CloseReason.THREAD_LIMIT: thread_limit_notice}
        notice = notices[reason]()
        with contextlib.suppress(OSError):
            client.sendall(notice)
        client.close()
        self.log.emit(EventKind.REFUSED, peer=peer, reason=reason.value)

    def shut_down(self) -> int:
        """Say goodbye to everyone first, then close everyone: closing wakes each client's thread, and
        thousands of threads awake would compete with this one for the interpreter while it still has
        goodbyes to write."""
        with self.lock:
            open_now = list(self.connections.values())
            endings = [(conn, conn.handler.closing(CloseReason.SHUTDOWN)) for conn in open_now]
        for conn, actions in endings:
            self.perform(conn, [action for action in actions if type(action) is Send])
        for conn, actions in endings:
            self.perform(conn, [action for action in actions if type(action) is not Send])
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
        self.released = False
        self.backlog_written = threading.Event()  # set when a writer thread has finished its backlog

    def run(self) -> None:
        """The client's thread: greet, then recv -> handler -> send until either side closes."""
        server = self.server
        if self.log.verbose:
            self.log.emit(EventKind.CONNECT, peer=self.peer)
        if server.settings.idle_timeout is not None:
            self.sock.settimeout(server.settings.idle_timeout)
        try:
            self.greet()
            self.read_loop()
            if self.reason is CloseReason.LINE_TOO_LONG:
                self.drain()
        finally:
            self.finish()

    def greet(self) -> None:
        """Carry out ``connected()`` in a frame of its own: in chat its actions are one line for every
        member, and a local of ``run()`` would keep them for the whole connection (N^2 in a room)."""
        with self.server.lock:
            actions = self.handler.connected()
        self.server.perform(self, actions)

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
                self.sock.recv(1, socket.MSG_PEEK)  # wait without a RECV_SIZE buffer held (RECV_SIZE)
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
        """Leave the room and forget this connection; the socket closes once its backlog is written."""
        server = self.server
        if self.mark_closed(CloseReason.ERROR):  # every way out of read_loop closes first: a guard
            end_connection(server, self.peer, self.reason)
        with server.lock:
            server.connections.pop(self.conn_id, None)
            actions = self.handler.lost(self.reason)
        server.perform(None, actions)
        box = self.outbox
        if box is not None:
            with box.lock:
                writer_busy = box.ending = box.writing  # if so, the writer releases the socket when done
            if writer_busy:
                if not self.backlog_written.wait(CLOSE_GRACE):  # it reads nothing: the writer would block
                    with contextlib.suppress(OSError):  # for ever; abort: RST, the backlog dropped, and
                        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.sock.shutdown(socket.SHUT_RDWR)  # the writer wakes (EPIPE) and releases
                return
        self.release()

    def send(self, data: bytes) -> None:
        if self.outbox is not None:
            if not self.deliver(data, self.outbox):
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

    def deliver(self, data: bytes, box: Outbox) -> bool:
        """Chat: give ``data`` to the kernel now, or queue what it cannot take (never wait for this
        member: the caller is whoever is talking). False when the member is gone or dropped."""
        lost = over = start_writer = False
        with box.lock:
            if self.released:
                return False
            if not box.writing:
                try:
                    sent = self.send_now(data)
                except OSError:  # reset, or gone
                    lost = True
                else:
                    if sent == len(data):
                        return True
                    data = data[sent:]
            over = not lost and box.size + len(data) > box.limit
            if not (lost or over):
                box.items.append(data)
                box.size += len(data)
                start_writer, box.writing = not box.writing, True
                if start_writer:
                    self.backlog_written.clear()
        if lost:
            self.lost_by_client(reset=True)
        elif over:
            self.close(CloseReason.SLOW_READER, abort=True)
        elif start_writer and not self.server.start_thread(self.write_backlog, f"writer {self.peer}"):
            # No thread may wait for it (the system's limit): dropped as a member that cannot keep up.
            self.close(CloseReason.SLOW_READER, abort=True)
            if self.writer_done(box):
                self.release()
            return False
        return not (lost or over)

    def send_now(self, data: bytes) -> int:
        """Write what the kernel takes right now without waiting: the bytes sent, 0 when its buffer is
        full (always 0 where ``send()`` cannot be told not to wait: the writer thread does it)."""
        try:
            if not DONTWAIT:
                return 0
            if self.sock.gettimeout() is None:
                return self.sock.send(data, DONTWAIT)
            # A socket with a timeout (--idle-timeout) is non-blocking underneath, but Python's send()
            # would first wait up to that timeout for room: the very wait this must not do.
            return os.write(self.sock.fileno(), data)
        except BlockingIOError:
            return 0

    def write_backlog(self) -> None:
        """Chat, writer thread: write the member's outbox until it is empty, then end."""
        box = self.outbox
        assert box is not None
        while True:
            with box.lock:  # empty and done in one step: a line queued after the look would be lost
                if not box.items:
                    box.writing = False
                    ended = box.ending
                    break
                data = box.take()
            try:
                self.sock.sendall(data)
            except TimeoutError:  # blocked for --idle-timeout: it reads nothing of what we send
                self.close(CloseReason.SLOW_READER, abort=True)
            except OSError:  # reset or gone: stop queueing for it (release() wakes the reader)
                self.lost_by_client(reset=True)
            else:
                continue
            ended = self.writer_done(box)
            break
        self.backlog_written.set()
        if ended:
            self.release()

    def writer_done(self, box: Outbox) -> bool:
        """The writer is gone (the connection failed): forget the backlog; True when the connection's
        thread has finished meanwhile, leaving the release of the socket to the writer."""
        with box.lock:
            box.take()
            box.writing = False
            return box.ending

    def close(self, reason: CloseReason, *, abort: bool = False) -> None:
        """End the connection from the server side; the reader thread wakes up and finishes."""
        if not self.mark_closed(reason):
            return
        end_connection(self.server, self.peer, reason)
        if reason is CloseReason.LINE_TOO_LONG and not abort:
            # The reader thread (ours: the limit was found in what it read) lingers in drain(). Without
            # an outbox the notice is written already, so FIN now; with one, the notice may still be in
            # it, and FIN follows once drain() is over (finish() ends the connection).
            if self.outbox is not None:
                return
            how = socket.SHUT_WR
        else:
            how = socket.SHUT_RDWR if abort or self.outbox is None else socket.SHUT_RD
        with contextlib.suppress(OSError):
            self.sock.shutdown(how)

    def release(self) -> None:
        """Close the socket (once its backlog is written, in chat: under the outbox's lock, so no
        delivery writes to a descriptor number the system may already have given to a new client)."""
        box = self.outbox
        with box.lock if box is not None else contextlib.nullcontext():
            self.released = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()


def serve(sock: socket.socket, settings: ServerSettings, log: EventLog, announce: Callable[[], None],
          warn: Callable[[ServerWarning], None] | None = None) -> int:
    """Run the thread engine until SIGINT/SIGTERM; return the number of connections closed at the end.

    ``warn`` hears (at most every ``WARN_EVERY`` s) that no more threads could be started."""
    if settings.udp:
        return serve_udp(sock, settings, log, announce)
    threading.stack_size(STACK_SIZE)
    server = ThreadServer(sock, settings, log, warn)
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
