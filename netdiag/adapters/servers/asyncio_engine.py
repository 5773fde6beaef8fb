"""The asyncio engine (default): one ``asyncio.Protocol`` per connection on low-level transports.

No streams: ``data_received`` hands the bytes straight to the sans-I/O handler and writes what it answers,
which is what keeps this engine close to a bare Protocol echo server. Flow control: when a client does not
read our answers, its transport pauses *reading* from it (``pause_writing``), so it cannot make us buffer
without bound; in chat, deliveries to a client whose write buffer passes ``--max-queue`` drop that client
(``slow-reader``) instead of delaying anyone. A burst of lines is worked through a slice per turn of the
loop (``work_through``), so the other clients are served between slices.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable
from typing import Any, cast

from netdiag.adapters import platform
from netdiag.core.protocols.actions import CloseReason, Mode
from netdiag.core.protocols.datagrams import datagram_answer
from netdiag.core.protocols.events import TEXT_LIMIT, EventKind, ServerWarning, ShortageKind
from netdiag.core.protocols.handlers import refusal_notice, shutting_down_notice
from netdiag.core.protocols.text import printable

from .accepting import OUT_OF_RESOURCES, RETRY_AFTER, Acceptor, Address
from .eventlog import EventLog
from .settings import CLOSE_GRACE, LINGER, SHUTDOWN_GRACE, WARN_EVERY, ServerSettings
from .shared import Server, end_connection, peer_name


class Hub(Server["TcpConnection"]):
    """One server's state (``shared.Server``), plus the loop and what the shutdown waits for."""

    def __init__(self, settings: ServerSettings, log: EventLog, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(settings, log)
        self.loop = loop
        self.stopping = False
        self.all_closed = asyncio.Event()
        self.all_closed.set()

    def forget(self, conn: TcpConnection) -> None:
        self.connections.pop(conn.conn_id, None)
        if not self.connections:
            self.all_closed.set()


class TcpConnection(asyncio.Protocol):
    __slots__ = ("closed", "conn_id", "grace_timer", "handler", "hub", "idle_timer", "last_active", "left",
                 "peer", "reason", "refused", "transport", "verbose", "write_paused")

    def __init__(self, hub: Hub, address: Address) -> None:
        self.hub = hub
        self.peer = peer_name(address)  # from accept(): a client reset before accept has no peername
        self.verbose = hub.log.verbose
        self.closed = False
        self.refused = False
        self.left = False
        self.reason = CloseReason.EOF
        self.idle_timer: asyncio.TimerHandle | None = None
        self.grace_timer: asyncio.TimerHandle | None = None
        self.last_active = 0.0
        self.write_paused = False

    # -- asyncio callbacks -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        hub = self.hub
        self.conn_id = next(hub.ids)
        if hub.stopping:  # accepted just as SIGINT/SIGTERM arrived
            self.refuse(shutting_down_notice(), CloseReason.SHUTDOWN)
            return
        if not hub.take_slot():
            self.refuse(refusal_notice(hub.settings.max_clients), CloseReason.MAX_CLIENTS)
            return
        hub.connections[self.conn_id] = self
        hub.all_closed.clear()
        if self.verbose:
            hub.log.emit(EventKind.CONNECT, peer=self.peer)
        self.handler = hub.handler_for(self.conn_id, self.peer)
        timeout = hub.settings.idle_timeout
        if timeout is not None:
            self.last_active = hub.loop.time()
            self.idle_timer = hub.loop.call_later(timeout, self.check_idle)
        hub.perform(self, self.handler.connected())

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self.idle_timer is not None:
            self.last_active = self.hub.loop.time()
        if self.verbose:
            self.hub.log.emit(EventKind.RECV, peer=self.peer, bytes=len(data),
                              text=printable(data[:TEXT_LIMIT], limit=TEXT_LIMIT))
        self.hub.perform(self, self.handler.received(data))
        if self.handler.pending:
            self.work_through()

    def eof_received(self) -> bool:
        if self.closed:
            self.release()  # lingering after a limit: the client has read our notice
        else:
            self.hub.perform(self, self.handler.ended())
            if self.handler.pending:
                self.work_through()
        return True  # keep our half open: pending replies still go out after the client's FIN

    def work_through(self) -> None:
        """A burst: read nothing more from this client and handle the next slice on the loop's next turn,
        after the other clients' events (``handlers``: bursts are handled in slices)."""
        self.transport.pause_reading()
        self.hub.loop.call_soon(self.next_slice)

    def next_slice(self) -> None:
        if self.closed:
            return
        if self.idle_timer is not None:
            self.last_active = self.hub.loop.time()  # it is us who are not reading: the client is not idle
        self.hub.perform(self, self.handler.resume())
        if self.closed:
            return
        if self.handler.pending:
            self.hub.loop.call_soon(self.next_slice)
        elif not self.write_paused:
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        self.write_paused = True
        self.transport.pause_reading()  # the client is not reading: stop reading it too

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.closed and not self.handler.pending:
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.refused:
            return
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self.grace_timer is not None:
            self.grace_timer.cancel()
        if not self.closed:
            self.closed = True
            self.reason = CloseReason.RESET if exc is not None else CloseReason.EOF
            end_connection(self.hub, self.peer, self.reason, reset=exc is not None)
        self.hub.forget(self)
        self.leave()

    def leave(self) -> None:
        """The session is over for the protocol (the chat room forgets the member): once, as soon as the
        connection is closed, not when its socket is finally released."""
        if not self.left:
            self.left = True
            self.hub.perform(None, self.handler.lost(self.reason))

    # -- what handlers and the hub ask for -----------------------------------------------------------
    def send(self, data: bytes) -> None:
        transport = self.transport
        if transport.is_closing():  # a failed send already doomed it: connection_lost is on its way
            return
        transport.write(data)
        if self.verbose:
            self.hub.log.emit(EventKind.SEND, peer=self.peer, bytes=len(data))
        if self.hub.room is not None and transport.get_write_buffer_size() > self.hub.settings.max_queue:
            self.close(CloseReason.SLOW_READER, abort=True)

    def close(self, reason: CloseReason, *, abort: bool = False) -> None:
        """End this connection from the server side (after what is queued, unless ``abort``)."""
        if self.closed:
            return
        self.closed, self.reason = True, reason
        end_connection(self.hub, self.peer, reason)
        if abort:
            self.transport.abort()
            return
        self.hub.loop.call_soon(self.leave)
        if reason is CloseReason.LINE_TOO_LONG:
            self.linger()
        else:
            self.release()

    def release(self) -> None:
        """Close after what is queued; abort if the client has not taken it within ``CLOSE_GRACE`` s.

        ``transport.close()`` waits for the write buffer to drain, and a client that stopped reading
        never drains it: the socket would stay open for good, slot freed and session logged as closed.
        """
        transport = self.transport
        if self.hub.connections.get(self.conn_id) is not self:
            return  # connection_lost came first: nothing left to release
        transport.close()
        if transport.get_write_buffer_size() and self.grace_timer is None:
            self.grace_timer = self.hub.loop.call_later(CLOSE_GRACE, self.give_up)

    def give_up(self) -> None:
        """Abort a closed connection that still has unsent data: RST, the descriptor is released now."""
        with contextlib.suppress(OSError):  # SO_LINGER 0: the kernel drops the backlog too
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def linger(self) -> None:
        """Send our notice and FIN but keep reading (and discarding) for a moment: closing with unread
        input would make the kernel answer with RST, and the client might never see why it was cut off."""
        transport = self.transport
        if transport.can_write_eof():
            transport.write_eof()
        transport.resume_reading()
        self.hub.loop.call_later(LINGER, self.release)

    def refuse(self, notice: bytes, reason: CloseReason) -> None:
        self.refused = self.closed = True
        self.transport.write(notice)
        self.transport.close()
        self.hub.log.emit(EventKind.REFUSED, peer=self.peer, reason=reason.value)

    def check_idle(self) -> None:
        if self.closed:
            return
        timeout = self.hub.settings.idle_timeout or 0.0
        due = self.last_active + timeout
        if self.hub.loop.time() >= due:
            self.idle_timer = None
            if self.transport.get_write_buffer_size():
                # Silent, and it has not read what we sent either (the kernel's buffers are full, so
                # reading from it is paused): a notice would wait behind that backlog for ever.
                self.close(CloseReason.SLOW_READER, abort=True)
            else:
                self.hub.perform(self, self.handler.closing(CloseReason.IDLE_TIMEOUT))
        else:
            self.idle_timer = self.hub.loop.call_at(due, self.check_idle)


class QuietEchoConnection(TcpConnection):
    """Echo with nothing to log and no idle timer: the hot path of the benchmark.

    ``EchoHandler`` answers every chunk with ``Send(chunk)`` and nothing else, so this writes the chunk
    straight back instead of building that action (and its list) for every chunk, which costs more than
    the write itself. Everything else (accept, refusal, flow control, close, shutdown) is
    ``TcpConnection``'s.
    """

    __slots__ = ()

    def data_received(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)


def connection_class(settings: ServerSettings) -> type[TcpConnection]:
    quiet_echo = settings.mode is Mode.ECHO and settings.quiet and settings.idle_timeout is None
    return QuietEchoConnection if quiet_echo else TcpConnection


class UdpEndpoint(asyncio.DatagramProtocol):
    """``--udp``: each datagram logged with its source and answered as ``datagram_answer`` says."""

    def __init__(self, hub: Hub, sock: socket.socket) -> None:
        self.hub, self.sock = hub, sock
        self.mode = hub.settings.mode

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        log = self.hub.log
        if log.verbose:
            log.emit(EventKind.DATAGRAM, peer=peer_name(addr), bytes=len(data),
                     text=printable(data[:TEXT_LIMIT], limit=TEXT_LIMIT))
        answer = datagram_answer(self.mode, data)
        if answer is not None:
            if answer:
                self.transport.sendto(answer, addr)
            else:  # asyncio silently skips empty datagrams; an empty echo is still an answer
                with contextlib.suppress(OSError):
                    self.sock.sendto(answer, addr)
            if log.verbose:
                log.emit(EventKind.SEND, peer=peer_name(addr), bytes=len(answer))

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors for earlier replies (the client went away): nothing to do for a server


def prime_allocator() -> None:
    """Free one block bigger than a read, once, before serving.

    The loop reads with ``recv(256 KiB)`` and shrinks the result to what arrived. glibc serves blocks
    above its mmap threshold (128 KiB at start) with mmap and shrinks them with mremap, so until some
    such block is freed whole - which raises the threshold and the trim threshold for good (mallopt(3),
    "dynamic mmap threshold") - every read costs extra system calls: the first seconds of a load ran
    three times slower than the rest. Elsewhere this is a harmless 512 KiB allocation.
    """
    block = bytes(512 * 1024)
    del block




def accept_warnings(warn: Callable[[ServerWarning], None] | None) -> Callable[[OSError], None]:
    """What to report when ``accept()`` fails for the listener: one warning per ``WARN_EVERY`` seconds."""
    last = [-WARN_EVERY]

    def failed(exc: OSError) -> None:
        now = time.monotonic()
        if warn is None or now - last[0] < WARN_EVERY:
            return
        last[0] = now
        if exc.errno in OUT_OF_RESOURCES:
            warn(ServerWarning(ShortageKind.ACCEPT_OUT_OF_FILES, str(exc.strerror)))
        else:
            warn(ServerWarning(ShortageKind.ACCEPT_FAILED, str(exc.strerror or exc), retry_after=RETRY_AFTER))

    return failed


async def serve(sock: socket.socket, settings: ServerSettings, log: EventLog,
                announce: Callable[[], None], warn: Callable[[ServerWarning], None] | None = None) -> int:
    """Serve on the already-bound ``sock`` until SIGINT/SIGTERM, then shut down cleanly."""
    prime_allocator()
    loop = asyncio.get_running_loop()
    hub = Hub(settings, log, loop)
    stop = asyncio.Event()
    undo = platform.on_stop_signals(loop, stop.set)  # SIGINT/SIGTERM (Windows: Ctrl-C)
    try:
        return await _serve_until_stopped(sock, settings, hub, stop, announce, warn)
    finally:
        undo()


async def _serve_until_stopped(sock: socket.socket, settings: ServerSettings, hub: Hub, stop: asyncio.Event,
                               announce: Callable[[], None],
                               warn: Callable[[ServerWarning], None] | None) -> int:
    loop = asyncio.get_running_loop()
    if settings.udp:
        transport, _ = await loop.create_datagram_endpoint(lambda: UdpEndpoint(hub, sock), sock=sock)
        announce()
        await stop.wait()
        transport.close()
        return 0
    protocol = connection_class(settings)
    acceptor = Acceptor(loop, sock, lambda address: protocol(hub, address), accept_warnings(warn),
                        batch=settings.accept_batch)
    acceptor.start()
    announce()
    await stop.wait()
    return await shut_down(hub, acceptor)


async def shut_down(hub: Hub, acceptor: Acceptor) -> int:
    """Stop accepting, say goodbye (chat), close every connection; abort stragglers after the grace."""
    hub.stopping = True
    acceptor.close()
    open_now = list(hub.connections.values())
    for conn in open_now:
        hub.perform(conn, conn.handler.closing(CloseReason.SHUTDOWN))
    try:
        await asyncio.wait_for(hub.all_closed.wait(), SHUTDOWN_GRACE)
    except asyncio.TimeoutError:
        for conn in list(hub.connections.values()):
            conn.transport.abort()
        await asyncio.sleep(0)
    return len(open_now)
