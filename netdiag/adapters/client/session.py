"""Sessions of ``netdiag connect``: scripted (``--message``) and interactive, as generators of events.

Nothing here prints: each session yields ``Received``, ``Sent``, ``NoReply``, ``PeerClosed``... and the
CLI renders them. A reply is every chunk that arrives within ``settle`` seconds of the previous one:
the lab's servers answer with one ``send()`` and TCP may still split it (UDP datagrams are never
joined). A long reply (or a trickle that never pauses ``settle`` seconds) is reported in pieces of about
``MAX_PIECE`` bytes or ``MAX_PIECE_DELAY`` seconds, each but the last marked ``partial``: memory stays
bounded whatever the server sends, and output flows as it arrives. ``--max-time`` (the connection's
``deadline``) ends any session with ``TimeLimit``, however busy the connection. Interactive sessions
read their input lines in a daemon thread into the same queue as the socket's data, so replies are
reported while the user is typing (a chat works).
"""

from __future__ import annotations

import queue
import select
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator

from netdiag.adapters.client.connection import (
    Chunk,
    Connection,
    EndOfStream,
    Failed,
    Incoming,
    InputEnded,
    InputLine,
)
from netdiag.core.client_events import (
    ClientEvent,
    HalfClosed,
    LineEnding,
    NoReply,
    PeerClosed,
    PeerKeepsSending,
    PeerKeptOpen,
    Received,
    Sent,
    TimeLimit,
    Unsent,
)
from netdiag.core.stream_repeats import RepeatWatch

DEFAULT_SETTLE = 0.05
MAX_PIECE = 65536
"""A reply longer than this is reported in pieces (cut after a newline or between UTF-8 characters)."""
MAX_PIECE_DELAY = 0.25
"""A reply still arriving after this many seconds is reported so far (a trickle shows as it comes)."""


LINE_PROBE = 0.5
"""Interactive, automatic newline: seconds to wait for an answer to the first line sent without its newline
before sending the newline (a line-based server waits for it; the lab's servers answer at once)."""


class _TimeUp(Exception):
    """The connection's deadline (``--max-time``) has passed: unwinds a session to its ``_limited``."""


def _next(connection: Connection, deadline: float | None) -> Incoming | None:
    """The next incoming item, or ``None`` once ``deadline`` (perf_counter time) has passed.

    Raises ``_TimeUp`` once the connection's own deadline has passed, even while items keep coming.
    """
    limit = connection.deadline
    now = time.perf_counter()
    if limit is not None:
        if now >= limit:
            raise _TimeUp
        if deadline is None or limit < deadline:
            deadline = limit
    try:
        if deadline is None:
            item = connection.incoming.get()
        else:
            item = connection.incoming.get(timeout=max(0.0, deadline - now))
    except queue.Empty:
        if limit is not None and time.perf_counter() >= limit:
            raise _TimeUp from None
        return None
    connection.taken(item)
    return item


def _limited(connection: Connection, events: Iterator[ClientEvent]) -> Iterator[ClientEvent]:
    """``events``, ended by ``TimeLimit`` when the connection's deadline passes."""
    try:
        yield from events
    except _TimeUp:
        yield TimeLimit(connection.max_time or 0.0)


def cut_point(data: bytes | bytearray) -> int:
    """Where to cut a reply piece: after its last newline, else before an unfinished UTF-8 character
    (and never between CR and LF), so each piece prints as the whole reply would have."""
    newline = data.rfind(b"\n")
    if newline >= 0:
        return newline + 1
    cut = len(data)
    for back in range(1, min(4, len(data)) + 1):  # a lead byte in the last 4 bytes: is its character whole?
        byte = data[-back]
        if byte >= 0xC0:
            size = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            if size > back:
                cut = len(data) - back
            break
        if byte < 0x80:
            break
    if cut > 0 and data[cut - 1] == 0x0D:
        cut -= 1
    return cut


def _collect_reply(connection: Connection, first: Chunk, settle: float, watch: RepeatWatch | None = None,
                   take_input: Callable[[InputLine], bytes] | None = None,
                   ) -> Generator[Received | Sent, None, Incoming | None]:
    """Join chunks that follow ``first`` within ``settle`` s, yielding pieces of a long or slow reply;
    return the item that ended the reply. Input lines that come meanwhile are sent (interactive).

    A UDP datagram is a whole message by itself: it is never joined with the next one. With ``watch``
    (after our end of input), each chunk is fed to it, and the reply stops, unreported, with ``None`` as
    soon as it shows a looping server: the caller reports that instead. ``take_input`` (interactive)
    sends an input line its own way, or keeps it for later, and returns what it sent.
    """
    if connection.udp:
        yield Received(first.data)
        return None
    pending = bytearray(first.data)
    began = first.at
    while True:
        try:
            item = _next(connection, time.perf_counter() + settle)
        except _TimeUp:
            yield Received(bytes(pending))
            raise
        if isinstance(item, InputLine):  # input goes out meanwhile: it does not end the reply it crosses
            sent = item.data if take_input is None else take_input(item)
            if take_input is None:
                connection.send(sent)
            if sent:
                yield Sent(sent)
        elif not isinstance(item, Chunk):
            yield Received(bytes(pending))
            return item
        else:
            pending += item.data
            if watch is not None and watch.feed(item.data):
                return None
        if len(pending) >= MAX_PIECE or time.perf_counter() - began >= MAX_PIECE_DELAY:
            cut = min(cut_point(pending), len(pending) - 1)  # the last piece is never empty
            if cut > 0:
                yield Received(bytes(pending[:cut]), partial=True)
                del pending[:cut]
                began = time.perf_counter()


def exchange_messages(connection: Connection, messages: Iterable[bytes], *, timeout: float,
                      settle: float = DEFAULT_SETTLE, wait_for_replies: bool = True,
                      ) -> Iterator[ClientEvent]:
    """Scripted session (see ``_exchange``), ended by ``TimeLimit`` at the connection's deadline."""
    return _limited(connection, _exchange(connection, messages, timeout=timeout, settle=settle,
                                          wait_for_replies=wait_for_replies))


def _exchange(connection: Connection, messages: Iterable[bytes], *, timeout: float, settle: float,
              wait_for_replies: bool) -> Iterator[ClientEvent]:
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
            item = yield from _collect_reply(connection, item, settle)
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
            item = yield from _collect_reply(connection, item, settle)
    if pending:
        yield Unsent(tuple(pending))
    if connection.udp:  # each datagram had its own wait; there is no end of stream to wait for
        while item is not None:
            if isinstance(item, Failed):
                raise item.failure
            if isinstance(item, Chunk):
                item = yield from _collect_reply(connection, item, settle)
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
    closed_at = time.perf_counter()
    deadline = closed_at + timeout
    watch = None if connection.udp else RepeatWatch(connection.sent_bytes)
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
            if watch is None or not watch.feed(item.data):
                item = yield from _collect_reply(connection, item, settle, watch)
            if watch is not None and watch.endless:
                yield Received(watch.unit)
                yield PeerKeepsSending(watch.unit, watch.total, time.perf_counter() - closed_at)
                return
            deadline = time.perf_counter() + timeout
            continue
        if isinstance(item, Failed):
            raise item.failure
        if isinstance(item, EndOfStream):
            yield PeerClosed()
            return
        item = None


def _pump_lines(lines: Iterable[bytes], connection: Connection) -> None:
    try:
        for line in lines:
            if not connection.put_input(line):  # the session is over
                return
    finally:  # whatever ends the input, the session must learn it or it would wait forever
        connection.incoming.put(InputEnded())


def interactive_session(connection: Connection, lines: Iterable[bytes], *, timeout: float,
                        settle: float = DEFAULT_SETTLE, auto_newline: bool = False) -> Iterator[ClientEvent]:
    """Interactive session (see ``_interactive``), ended by ``TimeLimit`` at the connection's deadline."""
    return _limited(connection, _interactive(connection, lines, timeout=timeout, settle=settle,
                                             auto_newline=auto_newline))


def _interactive(connection: Connection, lines: Iterable[bytes], *, timeout: float,
                 settle: float, auto_newline: bool = False) -> Iterator[ClientEvent]:
    """Send each line from ``lines`` as it comes while reporting replies as they arrive (chat works).

    ``lines`` is read in a daemon thread (stdin blocks). The session ends when the peer closes, or when
    ``lines`` ends: then the stream is half-closed and replies are awaited for ``timeout`` seconds.

    ``auto_newline`` (``lines`` end in ``\n``): the first line goes out without its newline, the way the
    lab's clients send. A server that answers within ``LINE_PROBE`` s takes messages so (the lab's, which
    compare the whole message with ``close``): every later line goes without its newline too. Otherwise
    the newline follows and later lines keep theirs (``nc``, line-based servers). ``LineEnding`` says which.
    """
    connection.start_reader()
    threading.Thread(target=_pump_lines, args=(lines, connection), name="netdiag-connect-input",
                     daemon=True).start()
    item: Incoming | None = None
    backlog: list[Incoming] = []  # input that came while the first line's answer was awaited, in order
    strip_newline: bool | None = None if auto_newline else False  # None: not decided yet
    unanswered = 0  # UDP: datagrams sent minus replies seen, to know when the wait at the end can stop
    line_open = False  # pieces of a long line went out already: its end decides the newline too

    def send_line(line: InputLine) -> bytes:
        nonlocal unanswered
        data = line.data[:-1] if strip_newline is not False and line.data.endswith(b"\n") else line.data
        if data:
            connection.send(data)
            unanswered += 1
        return data

    def take_input(line: InputLine) -> bytes:
        """During a reply: send the line, unless earlier input still waits (order is kept)."""
        if backlog:
            backlog.append(line)
            return b""
        return send_line(line)

    while True:
        if item is None:
            item = backlog.pop(0) if backlog else _next(connection, None)
        elif backlog and isinstance(item, InputLine | InputEnded):  # after the input that waits
            backlog.append(item)
            item = backlog.pop(0)
        if isinstance(item, Chunk):
            unanswered = max(0, unanswered - 1)
            item = yield from _collect_reply(connection, item, settle, take_input=take_input)
            continue
        if isinstance(item, InputLine):
            data = send_line(item)
            if data:
                yield Sent(data)
            ends_line = item.data.endswith(b"\n")
            line_begun, line_open = line_open, not ends_line and (line_open or bool(data))
            if strip_newline is None and ends_line and (data or line_begun):
                item = yield from _probe_line_ending(connection, backlog)
                strip_newline = item is not None
                yield LineEnding(lines=not strip_newline)
                continue
        elif isinstance(item, Failed):
            raise item.failure
        elif isinstance(item, EndOfStream):
            yield PeerClosed()
            return
        elif isinstance(item, InputEnded):
            yield from _finish(connection, None, timeout=timeout, settle=settle, outstanding=unanswered)
            return
        item = None


def _probe_line_ending(connection: Connection,
                       backlog: list[Incoming]) -> Generator[ClientEvent, None, Incoming | None]:
    """Wait up to ``LINE_PROBE`` s for the server's answer to a line sent without its newline; return
    what answered (a chunk, its close...), or ``None`` once the newline was sent for want of an answer.
    Input that comes meanwhile waits in ``backlog``."""
    deadline = time.perf_counter() + LINE_PROBE
    while True:
        item = _next(connection, deadline)
        if item is None:
            connection.send(b"\n")
            yield Sent(b"\n")
            return None
        if isinstance(item, InputLine | InputEnded):
            backlog.append(item)
            continue
        return item
