"""Accepting TCP connections for the asyncio engine ourselves, the same way on every event loop.

Why not ``loop.create_server``: uvloop's server accepts inside libuv and never sees the address that
``accept()`` returned, and a client that resets before it is accepted has no other name
(``getpeername`` fails on a reset socket), so the log would say ``?``. Accepting here keeps that
address on the stdlib loop and on uvloop alike, and puts the handling of a descriptor shortage (warn
once, wait, retry: never a traceback per failed ``accept``) in one place.

Where the loop cannot watch a descriptor (``add_reader``: not on Windows' Proactor loop, which
``platform.loop_watches_descriptors`` and a ``NotImplementedError`` tell) a task accepts one connection
at a time with ``loop.sock_accept``, which every loop has.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Any

from netdiag.adapters import platform

from .settings import ACCEPT_BATCH

Address = Any
"""What ``accept()`` returns as the peer: ``(host, port)`` or ``(host, port, flow, scope)``."""

OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
CLIENT_ALREADY_GONE = frozenset({
    errno.ECONNABORTED, errno.EPROTO, errno.ENETDOWN, errno.ENETUNREACH, errno.EHOSTDOWN,
    errno.EHOSTUNREACH, errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EPERM,
})
"""accept(2) on Linux: these are errors of the pending connection, not of the listener; skip it."""
RETRY_AFTER = 1.0
"""Seconds to stop accepting after ``accept()`` failed for the listener itself (asyncio's own delay)."""


class Acceptor:
    """Accept on the listening ``sock`` whenever it is readable and hand each connection to the loop.

    ``protocol_for(address)`` makes the protocol of one connection; ``on_failure(exc)`` hears when
    ``accept()`` fails for the listener (out of descriptors, ...), after which accepting pauses for
    ``RETRY_AFTER`` seconds while new clients wait in the kernel's backlog. At most ``batch``
    connections are accepted per wake-up (each holds a descriptor until it is handed over).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 protocol_for: Callable[[Address], asyncio.BaseProtocol],
                 on_failure: Callable[[OSError], None], batch: int = ACCEPT_BATCH) -> None:
        self.loop, self.sock, self.batch = loop, sock, batch
        self.protocol_for, self.on_failure = protocol_for, on_failure
        self.handing_over: set[asyncio.Task[Any]] = set()
        self.retry: asyncio.TimerHandle | None = None
        self.closed = False
        self.watching = platform.loop_watches_descriptors(loop)
        self.accepting: asyncio.Task[None] | None = None  # the one-by-one task, without add_reader
        sock.setblocking(False)

    def start(self) -> None:
        self.retry = None
        if self.closed:
            return
        if self.watching:
            try:
                self.loop.add_reader(self.sock.fileno(), self.accept_batch)
                return
            except NotImplementedError:  # a loop without add_reader (Windows' Proactor)
                self.watching = False
        self.accepting = self.loop.create_task(self.accept_one_by_one())

    async def accept_one_by_one(self) -> None:
        """Accept with ``loop.sock_accept`` until closed or paused (loops without ``add_reader``)."""
        while not self.closed:
            try:
                conn, address = await self.loop.sock_accept(self.sock)
            except OSError as exc:
                if self.closed:
                    return
                if exc.errno in CLIENT_ALREADY_GONE:
                    continue
                self.accepting = None
                self.pause(exc)
                return
            self.hand_over(conn, address)

    def stop_watching(self) -> None:
        if self.watching:
            self.loop.remove_reader(self.sock.fileno())
        elif self.accepting is not None:
            self.accepting.cancel()
            self.accepting = None

    def close(self) -> None:
        """Stop accepting and close the listener; connections already handed over are not touched."""
        if self.closed:
            return
        self.closed = True
        if self.retry is not None:
            self.retry.cancel()
        accepting = self.accepting
        self.stop_watching()
        if accepting is not None and not accepting.done():  # the loop lets go of the socket first
            accepting.add_done_callback(lambda _: self.sock.close())
        else:
            self.sock.close()

    def accept_batch(self) -> None:
        for _ in range(self.batch):
            try:
                conn, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in CLIENT_ALREADY_GONE:
                    continue
                self.pause(exc)
                return
            self.hand_over(conn, address)

    def pause(self, exc: OSError) -> None:
        self.stop_watching()
        self.retry = self.loop.call_later(RETRY_AFTER, self.start)
        self.on_failure(exc)

    def hand_over(self, conn: socket.socket, address: Address) -> None:
        task = self.loop.create_task(
            self.loop.connect_accepted_socket(lambda: self.protocol_for(address), conn))
        self.handing_over.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            self.handing_over.discard(task)
            exc = None if task.cancelled() else task.exception()
            if isinstance(exc, OSError):
                conn.close()  # the loop could not take the socket: the client is gone already
            elif exc is not None:
                self.loop.call_exception_handler({"message": "handing over a connection failed",
                                                  "exception": exc, "task": task})

        task.add_done_callback(done)
