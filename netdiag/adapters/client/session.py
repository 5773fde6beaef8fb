"""Sessions of ``netdiag connect``: scripted (``--message``) and interactive, as generators of events.

Nothing here prints: each session yields ``Received``, ``Sent``, ``NoReply``, ``PeerClosed``... and the
CLI renders them. A reply is every chunk that arrives within ``settle`` seconds of the previous one:
the lab's servers answer with one ``send()`` and TCP may still split it (UDP datagrams are never
joined). Interactive sessions read their input lines in a daemon thread into the same queue as the
socket's data, so replies are reported while the user is typing (a chat works).
"""

from __future__ import annotations

import queue
import select
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from netdiag.adapters.client.connection import (
    Chunk,
    Connection,
    EndOfStream,
    Failed,
    Incoming,
    InputEnded,
    InputLine,
)

DEFAULT_SETTLE = 0.05


@dataclass(frozen=True)
class Received:
    """Bytes from the peer (one reply: chunks that arrived within ``settle`` of each other)."""

    data: bytes


@dataclass(frozen=True)
class Sent:
    """Bytes written to the peer."""

    data: bytes


@dataclass(frozen=True)
class NoReply:
    """Nothing came back for ``message`` within ``timeout`` seconds."""

    message: bytes
    timeout: float


@dataclass(frozen=True)
class PeerClosed:
    """The peer closed its side (TCP FIN, read returned EOF)."""


@dataclass(frozen=True)
class HalfClosed:
    """We closed our sending side (SHUT_WR) and now wait, bounded, for the rest of the replies."""


@dataclass(frozen=True)
class Unsent:
    """Messages left unsent because the peer had closed the connection first."""

    messages: tuple[bytes, ...]


@dataclass(frozen=True)
class PeerKeptOpen:
    """After our half-close the peer neither answered nor closed within ``timeout`` seconds."""

    timeout: float


ClientEvent = Received | Sent | NoReply | PeerClosed | HalfClosed | Unsent | PeerKeptOpen


def _next(connection: Connection, deadline: float | None) -> Incoming | None:
    """The next incoming item, or ``None`` once ``deadline`` (perf_counter time) has passed."""
    try:
        if deadline is None:
            return connection.incoming.get()
        return connection.incoming.get(timeout=max(0.0, deadline - time.perf_counter()))
    except queue.Empty:
        return None


def _collect_reply(connection: Connection, first: Chunk, settle: float) -> tuple[Received, Incoming | None]:
    """Join chunks that follow ``first`` within ``settle`` s; also return the item that ended the reply.

    A UDP datagram is a whole message by itself: it is never joined with the next one.
    """
    if connection.udp:
        return Received(first.data), None
    parts = [first.data]
    while True:
        item = _next(connection, time.perf_counter() + settle)
        if isinstance(item, Chunk):
            parts.append(item.data)
            continue
        return Received(b"".join(parts)), item


def exchange_messages(connection: Connection, messages: Iterable[bytes], *, timeout: float,
                      settle: float = DEFAULT_SETTLE, wait_for_replies: bool = True,
                      ) -> Iterator[ClientEvent]:
    """Scripted session: send each message, wait up to ``timeout`` for its reply, then the next.

    Anything the server says first (a greeting) is reported before the first message is sent, if it
    has already arrived. After the last message the stream is half-closed and whatever is still
    coming is reported until the peer closes or ``timeout`` passes.
    """
    # Something already waiting in the kernel (a greeting, or the server's close) is read first, so a
    # greeting is never mistaken for the reply to the first message.
    waiting = bool(select.select([connection.sock], [], [], 0)[0])
    connection.start_reader()
    pending = list(messages)
    peer_closed = False
    item = _next(connection, time.perf_counter() + (timeout if waiting else 0))
    while pending and not peer_closed:
        if isinstance(item, Chunk):
            reply, item = _collect_reply(connection, item, settle)
            yield reply
            continue
        if isinstance(item, Failed):
            raise item.failure
        if isinstance(item, EndOfStream):
            peer_closed = True
            yield PeerClosed()
            break
        message = pending.pop(0)
        connection.send(message)
        yield Sent(message)
        if not wait_for_replies:
            item = _next(connection, time.perf_counter())
            continue
        item = _next(connection, time.perf_counter() + timeout)
        if item is None:
            yield NoReply(message, timeout)
        elif isinstance(item, Chunk):
            reply, item = _collect_reply(connection, item, settle)
            yield reply
    if pending:
        yield Unsent(tuple(pending))
    if connection.udp:  # each datagram had its own wait; there is no end of stream to wait for
        while item is not None:
            if isinstance(item, Failed):
                raise item.failure
            if isinstance(item, Chunk):
                reply, item = _collect_reply(connection, item, settle)
                yield reply
                continue
            item = _next(connection, time.perf_counter())
    elif not peer_closed:
        yield from _finish(connection, item, timeout=timeout, settle=settle)


def _finish(connection: Connection, item: Incoming | None, *, timeout: float, settle: float,
            outstanding: int = 0) -> Iterator[ClientEvent]:
    """Half-close, then report what still arrives until EOF (TCP) or ``timeout`` of silence.

    UDP has no end of stream: the wait also ends once ``outstanding`` more replies have arrived.
    """
    connection.half_close()
    if not connection.udp:
        yield HalfClosed()
    deadline = time.perf_counter() + timeout
    while True:
        if connection.udp and outstanding <= 0 and item is None:
            return
        if item is None:
            item = _next(connection, deadline)
            if item is None:
                if not connection.udp:
                    yield PeerKeptOpen(timeout)
                return
        if isinstance(item, Chunk):
            outstanding -= 1
            reply, item = _collect_reply(connection, item, settle)
            yield reply
            deadline = time.perf_counter() + timeout
            continue
        if isinstance(item, Failed):
            raise item.failure
        if isinstance(item, EndOfStream):
            yield PeerClosed()
            return
        item = None


def _pump_lines(lines: Iterable[bytes], sink: queue.Queue[Incoming]) -> None:
    try:
        for line in lines:
            sink.put(InputLine(line))
    finally:  # whatever ends the input, the session must learn it or it would wait forever
        sink.put(InputEnded())


def interactive_session(connection: Connection, lines: Iterable[bytes], *, timeout: float,
                        settle: float = DEFAULT_SETTLE) -> Iterator[ClientEvent]:
    """Send each line from ``lines`` as it comes while reporting replies as they arrive (chat works).

    ``lines`` is read in a daemon thread (stdin blocks). The session ends when the peer closes, or when
    ``lines`` ends: then the stream is half-closed and replies are awaited for ``timeout`` seconds.
    """
    connection.start_reader()
    threading.Thread(target=_pump_lines, args=(lines, connection.incoming), name="netdiag-connect-input",
                     daemon=True).start()
    item: Incoming | None = None
    unanswered = 0  # UDP: datagrams sent minus replies seen, to know when the wait at the end can stop
    while True:
        if item is None:
            item = _next(connection, None)
        if isinstance(item, Chunk):
            unanswered = max(0, unanswered - 1)
            reply, item = _collect_reply(connection, item, settle)
            yield reply
            continue
        if isinstance(item, InputLine):
            connection.send(item.data)
            unanswered += 1
            yield Sent(item.data)
        elif isinstance(item, Failed):
            raise item.failure
        elif isinstance(item, EndOfStream):
            yield PeerClosed()
            return
        elif isinstance(item, InputEnded):
            yield from _finish(connection, None, timeout=timeout, settle=settle, outstanding=unanswered)
            return
        item = None
