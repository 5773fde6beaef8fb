"""The client side of ``netdiag connect``: open a TCP or UDP connection, exchange messages, report events.

Opening tries every address ``getaddrinfo`` returns, one after the other (trio's happy-eyeballs idea,
without the racing), and keeps each attempt: "refused on ::1, connected on 127.0.0.1" is itself a
diagnosis. ``OSError`` is translated into ``NetworkFailure`` (with the catalog's explanation) where it
happens. This module never prints: sessions are generators of events (``Received``, ``PeerClosed``,
...) that the CLI renders.

A reader thread turns the socket into a queue of events, so replies are reported as they arrive while
the caller waits on stdin (interactive chat) or on a deadline (scripted ``--message``). Chunks that
arrive within ``settle`` seconds of each other are reported as one reply: the lab's servers answer with
one ``send()`` and TCP may still split it, or glue a reply to the next one.
"""

from __future__ import annotations

import contextlib
import errno
import queue
import select
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from netdiag.core.catalog import (
    Cause,
    Explanation,
    classify_os_error,
    explanation_for,
    fill_placeholders,
)
from netdiag.core.failures import NetworkFailure
from netdiag.core.targets import format_endpoint

RECV_SIZE = 65536
DEFAULT_SETTLE = 0.05

# When attempts on several addresses fail differently, report the most telling cause: a timeout on one
# address says more about the target (a firewall, a wrong address) than a refusal on another.
_CAUSE_PRIORITY = (Cause.TIMEOUT, Cause.HOST_UNREACHABLE, Cause.NO_ROUTE, Cause.CONNECTION_RESET,
                   Cause.NOTHING_LISTENING)

_OUTCOME_WORDS = {
    Cause.OK: "connected",
    Cause.NOTHING_LISTENING: "refused",
    Cause.TIMEOUT: "timed out",
    Cause.HOST_UNREACHABLE: "host unreachable",
    Cause.NO_ROUTE: "network unreachable",
    Cause.CONNECTION_RESET: "reset",
}


@dataclass(frozen=True)
class Attempt:
    """One address tried: what happened there and how long it took."""

    address: str
    cause: Cause
    seconds: float
    detail: str = ""

    @property
    def outcome(self) -> str:
        """A short phrase: ``connected``, ``refused``, ``timed out``..."""
        return _OUTCOME_WORDS.get(self.cause, self.detail or self.cause.value)


@dataclass
class Timings:
    """How long each phase took, in seconds (``None``: the phase did not happen)."""

    resolve: float | None = None
    connect: float | None = None
    first_reply: float | None = None


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


@dataclass(frozen=True)
class _Chunk:
    data: bytes
    at: float


@dataclass(frozen=True)
class _Eof:
    pass


@dataclass(frozen=True)
class _Failed:
    failure: NetworkFailure


@dataclass(frozen=True)
class _Line:
    data: bytes


@dataclass(frozen=True)
class _InputEnded:
    pass


_Incoming = _Chunk | _Eof | _Failed | _Line | _InputEnded


@dataclass
class Connection:
    """An open TCP stream or connected UDP socket, its attempts, timings, and a queue of what arrives."""

    sock: socket.socket
    udp: bool
    host: str
    port: int
    target: str
    peer: str
    local: str
    attempts: list[Attempt]
    timings: Timings
    _connected_at: float = 0.0
    _first_sent_at: float | None = None
    _closing: bool = False
    _incoming: queue.Queue[_Incoming] = field(default_factory=queue.Queue)
    _reader: threading.Thread | None = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket; shutting it down first wakes the reader thread out of ``recv``."""
        self._closing = True
        with contextlib.suppress(OSError):  # not connected any more (peer gone): nothing to wake
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def start_reader(self) -> None:
        """Read the socket in a daemon thread; data, EOF and failures go to the queue in order."""
        self._reader = threading.Thread(target=self._read_forever, name="netdiag-connect-reader",
                                        daemon=True)
        self._reader.start()

    def _read_forever(self) -> None:
        while True:
            try:
                data = self.sock.recv(RECV_SIZE)
            except OSError as exc:
                if self._closing:  # closed by us: the session is over
                    return
                self._incoming.put(_Failed(self._failure(exc, "recv")))
                return
            if self._closing:
                return
            if not data and not self.udp:
                self._incoming.put(_Eof())
                return
            now = time.perf_counter()
            if self.timings.first_reply is None:
                # From the first message sent if it preceded the reply (round trip plus the server's
                # work), else from the connection (a greeting).
                self.timings.first_reply = now - (self._first_sent_at or self._connected_at)
            self._incoming.put(_Chunk(data, now))

    def send(self, data: bytes) -> None:
        if self._first_sent_at is None:
            self._first_sent_at = time.perf_counter()
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise self._failure(exc, "send") from exc

    def half_close(self) -> None:
        """Send FIN (TCP only): the server sees end of input and may finish and close."""
        if self.udp:
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:  # the peer already closed: nothing left to shut
                raise self._failure(exc, "send") from exc

    def _failure(self, exc: OSError, operation: str) -> NetworkFailure:
        return session_failure(exc, self.peer, udp=self.udp, operation=operation, host=self.host,
                               port=self.port)


def session_failure(exc: OSError, peer: str, *, udp: bool, operation: str, host: str | None = None,
                    port: int | None = None) -> NetworkFailure:
    """The ``NetworkFailure`` for an error on an established connection (reset, unreachable...)."""
    cause = classify_os_error(exc.errno, "recv" if operation == "recv" else "send")
    if udp and cause == Cause.NOTHING_LISTENING:
        message = (f"UDP port unreachable: {peer} answered with ICMP port-unreachable, so nothing "
                   "listens for UDP there.")
    elif cause == Cause.CONNECTION_RESET:
        message = f"Connection reset by {peer}: the server aborted the connection."
    elif cause == Cause.BROKEN_PIPE:
        message = f"Broken pipe: {peer} had already closed the connection when we sent."
    else:
        message = f"The connection to {peer} failed: {exc.strerror or exc}."
    return NetworkFailure(message, explanation=explained(cause, host, port))


def explained(cause: Cause, host: str | None, port: int | None) -> Explanation:
    """The catalog's explanation of ``cause`` with its ``HOST``/``PORT`` placeholders filled in."""
    entry = explanation_for(cause)

    def fill(text: str) -> str:
        return fill_placeholders(text, host=host, port=port)

    return replace(entry, meaning=fill(entry.meaning), likely_causes=tuple(map(fill, entry.likely_causes)),
                   fixes=tuple(map(fill, entry.fixes)))


def _address_text(sockaddr: tuple[object, ...]) -> str:
    return format_endpoint(str(sockaddr[0]), int(str(sockaddr[1])))


def resolve(host: str, port: int, *, udp: bool, family: int = 0) -> list[tuple[int, tuple[object, ...]]]:
    """``(family, sockaddr)`` for every address of ``host``, in the resolver's order, no duplicates."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    try:
        infos = socket.getaddrinfo(host, port, family, kind)
    except socket.gaierror as exc:
        raise NetworkFailure(
            f"Cannot resolve '{host}': {exc.strerror or exc}. No connection was attempted.",
            explanation=explained(Cause.DNS_FAILURE, host, port),
        ) from exc
    except UnicodeError as exc:  # a label longer than 63 characters fails in the idna codec
        raise NetworkFailure(
            f"Cannot resolve '{host}': it is not a valid host name ({exc}).",
            explanation=explained(Cause.DNS_FAILURE, host, port),
        ) from exc
    seen: dict[tuple[object, ...], int] = {}
    for info in infos:
        seen.setdefault(tuple(info[4]), info[0])
    return [(fam, addr) for addr, fam in seen.items()]


def open_connection(host: str, port: int, *, udp: bool = False, timeout: float = 5.0,
                    family: int = 0) -> Connection:
    """Resolve ``host`` and connect to each address in turn until one accepts.

    Raises ``NetworkFailure`` naming every attempt when none does. For UDP, "connecting" only fixes the
    peer (no packet is sent); a closed UDP port shows up later, as ICMP port-unreachable on ``recv``.
    """
    target = format_endpoint(host, port)
    started = time.perf_counter()
    addresses = resolve(host, port, udp=udp, family=family)
    timings = Timings(resolve=time.perf_counter() - started)
    attempts: list[Attempt] = []
    for fam, sockaddr in addresses:
        sock, attempt = _attempt(fam, sockaddr, udp=udp, timeout=timeout)
        attempts.append(attempt)
        if sock is not None:
            timings.connect = attempt.seconds
            connection = Connection(sock=sock, udp=udp, host=host, port=port, target=target,
                                    peer=attempt.address, local=_address_text(sock.getsockname()),
                                    attempts=attempts, timings=timings)
            connection._connected_at = time.perf_counter()
            return connection
    raise _connect_failure(host, port, attempts, timeout)


def _attempt(fam: int, sockaddr: tuple[object, ...], *, udp: bool,
             timeout: float) -> tuple[socket.socket | None, Attempt]:
    address = _address_text(sockaddr)
    sock = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    sock.settimeout(timeout)
    began = time.perf_counter()
    try:
        sock.connect(sockaddr)
    except TimeoutError:
        sock.close()
        return None, Attempt(address, Cause.TIMEOUT, time.perf_counter() - began)
    except OSError as exc:
        sock.close()
        cause = classify_os_error(exc.errno, "connect")
        return None, Attempt(address, cause, time.perf_counter() - began, exc.strerror or str(exc))
    elapsed = time.perf_counter() - began
    if not udp and sock.getsockname()[:2] == sock.getpeername()[:2]:
        # Loopback trap: connecting to a free port in the ephemeral range can pick that same port as
        # the source and "connect" the socket to itself. Nothing listens there: report a refusal.
        sock.close()
        return None, Attempt(address, Cause.NOTHING_LISTENING, elapsed, "connected to itself")
    sock.settimeout(None)
    return sock, Attempt(address, Cause.OK, elapsed)


def _connect_failure(host: str, port: int, attempts: list[Attempt], timeout: float) -> NetworkFailure:
    target = format_endpoint(host, port)
    causes = [a.cause for a in attempts]
    cause = next((c for c in _CAUSE_PRIORITY if c in causes), causes[0] if causes else Cause.UNKNOWN)
    facts = ", ".join(f"{a.outcome} on {a.address}" for a in attempts)
    lead = {
        Cause.NOTHING_LISTENING: f"Connection refused by {target}: nothing is listening there",
        Cause.TIMEOUT: f"Connection to {target} timed out after {timeout:g} s: no answer at all",
        Cause.HOST_UNREACHABLE: f"Cannot reach {target}: host unreachable",
        Cause.NO_ROUTE: f"Cannot reach {target}: network unreachable (no route)",
    }.get(cause, f"Cannot connect to {target}")
    detail = f" ({facts})." if len(attempts) > 1 or cause not in _OUTCOME_WORDS else "."
    return NetworkFailure(lead + detail, explanation=explained(cause, host, port))


def _next(connection: Connection, deadline: float | None) -> _Incoming | None:
    """The next incoming item, or ``None`` once ``deadline`` (perf_counter time) has passed."""
    try:
        if deadline is None:
            return connection._incoming.get()
        return connection._incoming.get(timeout=max(0.0, deadline - time.perf_counter()))
    except queue.Empty:
        return None


def _collect_reply(connection: Connection, first: _Chunk, settle: float) -> tuple[Received, _Incoming | None]:
    """Join chunks that follow ``first`` within ``settle`` s; also return the item that ended the reply.

    A UDP datagram is a whole message by itself: it is never joined with the next one.
    """
    if connection.udp:
        return Received(first.data), None
    parts = [first.data]
    while True:
        item = _next(connection, time.perf_counter() + settle)
        if isinstance(item, _Chunk):
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
        if isinstance(item, _Chunk):
            reply, item = _collect_reply(connection, item, settle)
            yield reply
            continue
        if isinstance(item, _Failed):
            raise item.failure
        if isinstance(item, _Eof):
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
        elif isinstance(item, _Chunk):
            reply, item = _collect_reply(connection, item, settle)
            yield reply
    if pending:
        yield Unsent(tuple(pending))
    if connection.udp:  # each datagram had its own wait; there is no end of stream to wait for
        while item is not None:
            if isinstance(item, _Failed):
                raise item.failure
            if isinstance(item, _Chunk):
                reply, item = _collect_reply(connection, item, settle)
                yield reply
                continue
            item = _next(connection, time.perf_counter())
    elif not peer_closed:
        yield from _finish(connection, item, timeout=timeout, settle=settle)


def _finish(connection: Connection, item: _Incoming | None, *, timeout: float, settle: float,
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
        if isinstance(item, _Chunk):
            outstanding -= 1
            reply, item = _collect_reply(connection, item, settle)
            yield reply
            deadline = time.perf_counter() + timeout
            continue
        if isinstance(item, _Failed):
            raise item.failure
        if isinstance(item, _Eof):
            yield PeerClosed()
            return
        item = None


def _pump_lines(lines: Iterable[bytes], sink: queue.Queue[_Incoming]) -> None:
    for line in lines:
        sink.put(_Line(line))
    sink.put(_InputEnded())


def interactive_session(connection: Connection, lines: Iterable[bytes], *, timeout: float,
                        settle: float = DEFAULT_SETTLE) -> Iterator[ClientEvent]:
    """Send each line from ``lines`` as it comes while reporting replies as they arrive (chat works).

    ``lines`` is read in a daemon thread (stdin blocks). The session ends when the peer closes, or when
    ``lines`` ends: then the stream is half-closed and replies are awaited for ``timeout`` seconds.
    """
    connection.start_reader()
    threading.Thread(target=_pump_lines, args=(lines, connection._incoming), name="netdiag-connect-input",
                     daemon=True).start()
    item: _Incoming | None = None
    unanswered = 0  # UDP: datagrams sent minus replies seen, to know when the wait at the end can stop
    while True:
        if item is None:
            item = _next(connection, None)
        if isinstance(item, _Chunk):
            unanswered = max(0, unanswered - 1)
            reply, item = _collect_reply(connection, item, settle)
            yield reply
            continue
        if isinstance(item, _Line):
            connection.send(item.data)
            unanswered += 1
            yield Sent(item.data)
        elif isinstance(item, _Failed):
            raise item.failure
        elif isinstance(item, _Eof):
            yield PeerClosed()
            return
        elif isinstance(item, _InputEnded):
            yield from _finish(connection, None, timeout=timeout, settle=settle, outstanding=unanswered)
            return
        item = None
