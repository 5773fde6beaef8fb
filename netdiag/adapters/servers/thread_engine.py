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

This module is the server (accept loop, threads, shutdown, UDP); one client's thread, its reading and its
chat deliveries are ``thread_connection``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

from netdiag.core.protocols.actions import CloseReason, Send
from netdiag.core.protocols.datagrams import datagram_answer
from netdiag.core.protocols.events import TEXT_LIMIT, EventKind, ServerWarning, ShortageKind
from netdiag.core.protocols.handlers import refusal_notice, shutting_down_notice, thread_limit_notice
from netdiag.core.protocols.text import printable

from .eventlog import EventLog
from .settings import SHUTDOWN_GRACE, WARN_EVERY, ServerSettings
from .shared import Server, peer_name
from .thread_connection import RECV_SIZE, ThreadConnection

POLL = 0.1
"""How often the accept loop looks at the stop flag (seconds); bounds shutdown latency."""
STACK_SIZE = 256 * 1024
"""Stack of each thread the engine starts (the platform default is often 8 MiB of address space)."""


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
