"""Opening a connection for ``netdiag connect``: every address tried, each attempt kept, OSError explained.

Opening tries every address ``getaddrinfo`` returns, one after the other (trio's happy-eyeballs idea,
without the racing), and keeps each attempt: "refused on ::1, connected on 127.0.0.1" is itself a
diagnosis. ``OSError`` is translated into ``NetworkFailure`` (with the catalog's explanation, host and
port filled in) where it happens. A ``Connection`` reads its socket in a daemon thread and turns it
into a queue of items (``Chunk``, ``EndOfStream``, ``Failed``) that the sessions consume.
"""

from __future__ import annotations

import contextlib
import errno
import queue
import socket
import threading
import time
from dataclasses import dataclass, field

from netdiag.adapters.net.resolve import lookup
from netdiag.core.catalog import Cause, Explanation, explanation_for
from netdiag.core.error_causes import classify_exception
from netdiag.core.failures import NetworkFailure, ResolveFailure
from netdiag.core.targets import format_endpoint

RECV_SIZE = 65536
MAX_BUFFERED = 1 << 20
"""Bytes read but not yet taken by the session: past this the reader thread stops reading, so a server that
sends faster than we print waits in TCP's flow control instead of filling our memory (the queue used to be
unbounded: an 845 MB reply took 2.56 GB). Not while we send: a server blocked writing to us may not read
what we send before we read from it (an echo), so the reader must keep reading then."""

# When attempts on several addresses fail differently, report the most telling cause: a timeout on one
# address says more about the target (a firewall, a wrong address) than a refusal on another.
_CAUSE_PRIORITY = (Cause.TIMEOUT, Cause.FIREWALL_DROP, Cause.HOST_UNREACHABLE, Cause.NO_ROUTE,
                   Cause.CONNECTION_RESET, Cause.NOTHING_LISTENING)

_OUTCOME_WORDS = {
    Cause.OK: "connected",
    Cause.NOTHING_LISTENING: "refused",
    Cause.TIMEOUT: "timed out",
    Cause.HOST_UNREACHABLE: "host unreachable",
    Cause.NO_ROUTE: "network unreachable",
    Cause.CONNECTION_RESET: "reset",
    Cause.FIREWALL_DROP: "blocked by a firewall rule on this machine",
}


@dataclass(frozen=True)
class Attempt:
    """One address tried: what happened there and how long it took."""

    address: str
    cause: Cause
    seconds: float
    detail: str = ""
    errno: int | None = None

    @property
    def outcome(self) -> str:
        """A short phrase: ``connected``, ``refused``, ``timed out``..."""
        return _OUTCOME_WORDS.get(self.cause, self.detail or self.cause.value)


class ConnectFailure(NetworkFailure):
    """No address of the target accepted; ``attempts`` says what happened on each (empty: not resolved)."""

    def __init__(self, message: str, *, explanation: Explanation, attempts: list[Attempt],
                 errno: int | None = None, host: str | None = None, port: int | None = None) -> None:
        super().__init__(message, explanation=explanation, errno=errno, host=host, port=port)
        self.attempts = attempts


@dataclass
class Timings:
    """How long each phase took, in seconds (``None``: the phase did not happen)."""

    resolve: float | None = None
    connect: float | None = None
    first_reply: float | None = None


# What the queue of a connection carries, in arrival order: the reader thread's bytes, end of stream or
# failure, and (interactive sessions) the input thread's lines and end of input.


@dataclass(frozen=True)
class Chunk:
    """Bytes read from the socket, with the ``perf_counter`` time they arrived."""

    data: bytes
    at: float


@dataclass(frozen=True)
class EndOfStream:
    """The peer closed its sending side (``recv`` returned no bytes on TCP)."""


@dataclass(frozen=True)
class Failed:
    """Reading failed (reset, port unreachable...): the explained failure to raise in the session."""

    failure: NetworkFailure


@dataclass(frozen=True)
class InputLine:
    """A line of the user's input, ready to send."""

    data: bytes


@dataclass(frozen=True)
class InputEnded:
    """The user's input ended (EOF on stdin)."""


Incoming = Chunk | EndOfStream | Failed | InputLine | InputEnded


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
    incoming: queue.Queue[Incoming] = field(default_factory=queue.Queue)
    _reader: threading.Thread | None = None
    deadline: float | None = None
    """``perf_counter`` time past which the session stops (``--max-time``); None: no limit."""
    max_time: float | None = None
    _buffered: int = 0
    _input_buffered: int = 0
    _sending: bool = False
    sent_bytes: int = 0
    """Bytes sent so far: more than this arriving after our end of input cannot be an echo of it."""
    _room: threading.Condition = field(default_factory=threading.Condition)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket; shutting it down first wakes the reader thread out of ``recv``."""
        self._closing = True
        with self._room:
            self._room.notify_all()
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
                self.incoming.put(Failed(self._failure(exc, "recv")))
                return
            if self._closing or not self._wait_for_room():
                return
            if not data and not self.udp:
                self.incoming.put(EndOfStream())
                return
            now = time.perf_counter()
            if self.timings.first_reply is None:
                # From the first message sent if it preceded the reply (round trip plus the server's
                # work), else from the connection (a greeting).
                self.timings.first_reply = now - (self._first_sent_at or self._connected_at)
            with self._room:
                self._buffered += len(data)
            self.incoming.put(Chunk(data, now))

    def _wait_for_room(self) -> bool:
        """Wait until the session has taken enough of what was read (``MAX_BUFFERED``), or we send;
        False once the connection is being closed."""
        with self._room:
            while self._buffered >= MAX_BUFFERED and not self._sending and not self._closing:
                self._room.wait()
            return not self._closing

    def put_input(self, line: bytes) -> bool:
        """Queue a line of the user's input, once less than ``MAX_BUFFERED`` of input waits to be sent
        (input read faster than it can be sent waits in its pipe); False once the connection is closing."""
        with self._room:
            while self._input_buffered >= MAX_BUFFERED and not self._closing:
                self._room.wait()
            if self._closing:
                return False
            self._input_buffered += len(line)
        self.incoming.put(InputLine(line))
        return True

    def taken(self, item: Incoming) -> None:
        """The session took ``item`` from the queue: its bytes no longer count as buffered."""
        if isinstance(item, Chunk | InputLine):
            with self._room:
                if isinstance(item, Chunk):
                    self._buffered -= len(item.data)
                else:
                    self._input_buffered -= len(item.data)
                self._room.notify_all()

    def send(self, data: bytes) -> None:
        if self._first_sent_at is None:
            self._first_sent_at = time.perf_counter()
        with self._room:
            self._sending = True
            self._room.notify_all()
        try:
            self.sock.sendall(data)
            self.sent_bytes += len(data)
        except OSError as exc:
            raise self._failure(exc, "send") from exc
        finally:
            with self._room:
                self._sending = False

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
    cause = classify_exception(exc, "recv" if operation == "recv" else "send")
    if udp and cause == Cause.NOTHING_LISTENING:
        message = (f"UDP port unreachable: {peer} answered with ICMP port-unreachable, so nothing "
                   "listens for UDP there.")
    elif cause == Cause.CONNECTION_RESET:
        message = f"Connection reset by {peer}: the server aborted the connection."
    elif cause == Cause.FIREWALL_DROP:
        message = (f"Sending to {peer} was blocked on this machine: a firewall rule (OUTPUT chain) dropped "
                   f"the packet before it left ({exc.strerror or exc}).")
    elif cause == Cause.BROKEN_PIPE:
        message = f"Broken pipe: {peer} had already closed the connection when we sent."
    else:
        message = f"The connection to {peer} failed: {exc.strerror or exc}."
    return NetworkFailure(message, explanation=explanation_for(cause, host=host, port=port), errno=exc.errno,
                          host=host, port=port)


def _address_text(sockaddr: tuple[object, ...]) -> str:
    return format_endpoint(str(sockaddr[0]), int(str(sockaddr[1])))


def resolve(host: str, port: int, *, udp: bool, family: int = 0) -> list[tuple[int, tuple[object, ...]]]:
    """``(family, sockaddr)`` for every address of ``host``, in the resolver's order, no duplicates.

    A name that does not resolve is a ``ConnectFailure`` with no attempt (``lookup``'s sentence, its
    explanation filled with the target, its fields kept).
    """
    try:
        infos = lookup(host, port, family=family, kind=socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    except ResolveFailure as failure:
        raise ConnectFailure(
            f"{failure.message} No connection was attempted.",
            explanation=explanation_for(Cause.DNS_FAILURE, host=host, port=port), attempts=[],
            errno=failure.errno, host=host, port=port,
        ) from failure
    seen: dict[tuple[object, ...], int] = {}
    for info in infos:
        seen.setdefault(tuple(info[4]), info[0])
    return [(fam, addr) for addr, fam in seen.items()]


def open_connection(host: str, port: int, *, udp: bool = False, timeout: float = 5.0,
                    family: int = 0, max_time: float | None = None) -> Connection:
    """Resolve ``host`` and connect to each address in turn until one accepts.

    Raises ``NetworkFailure`` naming every attempt when none does. For UDP, "connecting" only fixes the
    peer (no packet is sent); a closed UDP port shows up later, as ICMP port-unreachable on ``recv``.
    ``max_time`` (seconds, from now) bounds everything: the attempts, then the session on the connection.
    """
    target = format_endpoint(host, port)
    started = time.perf_counter()
    deadline = None if max_time is None else started + max_time
    addresses = resolve(host, port, udp=udp, family=family)
    timings = Timings(resolve=time.perf_counter() - started)
    attempts: list[Attempt] = []
    for fam, sockaddr in addresses:
        limit = timeout if deadline is None else min(timeout, deadline - time.perf_counter())
        if limit <= 0:
            break
        sock, attempt = _attempt(fam, sockaddr, udp=udp, timeout=limit)
        attempts.append(attempt)
        if sock is not None:
            timings.connect = attempt.seconds
            connection = Connection(sock=sock, udp=udp, host=host, port=port, target=target,
                                    peer=attempt.address, local=_address_text(sock.getsockname()),
                                    attempts=attempts, timings=timings, deadline=deadline,
                                    max_time=max_time)
            connection._connected_at = time.perf_counter()
            return connection
    raise _connect_failure(host, port, attempts, timeout if max_time is None else min(timeout, max_time))


def _attempt(fam: int, sockaddr: tuple[object, ...], *, udp: bool,
             timeout: float) -> tuple[socket.socket | None, Attempt]:
    address = _address_text(sockaddr)
    try:
        sock = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    except OSError as exc:  # EAFNOSUPPORT (IPv6 compiled out), EMFILE (out of file descriptors)...
        cause = classify_exception(exc, "connect")
        return None, Attempt(address, cause, 0.0, f"no socket: {exc.strerror or exc}")
    sock.settimeout(timeout)
    began = time.perf_counter()
    try:
        sock.connect(sockaddr)
    except TimeoutError:
        sock.close()
        return None, Attempt(address, Cause.TIMEOUT, time.perf_counter() - began)
    except OSError as exc:
        sock.close()
        cause = classify_exception(exc, "connect")
        return None, Attempt(address, cause, time.perf_counter() - began, exc.strerror or str(exc), exc.errno)
    elapsed = time.perf_counter() - began
    if not udp and sock.getsockname()[:2] == sock.getpeername()[:2]:
        # Loopback trap: connecting to a free port in the ephemeral range can pick that same port as
        # the source and "connect" the socket to itself. Nothing listens there: report a refusal.
        sock.close()
        return None, Attempt(address, Cause.NOTHING_LISTENING, elapsed, "connected to itself",
                             errno.ECONNREFUSED)
    sock.settimeout(None)
    return sock, Attempt(address, Cause.OK, elapsed)


def _connect_failure(host: str, port: int, attempts: list[Attempt], timeout: float) -> ConnectFailure:
    target = format_endpoint(host, port)
    causes = [a.cause for a in attempts]
    cause = next((c for c in _CAUSE_PRIORITY if c in causes), causes[0] if causes else Cause.UNKNOWN)
    facts = ", ".join(f"{a.outcome} on {a.address}" for a in attempts)
    lead = {
        Cause.NOTHING_LISTENING: f"Connection refused by {target}: nothing is listening there",
        Cause.TIMEOUT: f"Connection to {target} timed out after {timeout:g} s: no answer at all",
        Cause.HOST_UNREACHABLE: f"Cannot reach {target}: host unreachable",
        Cause.NO_ROUTE: f"Cannot reach {target}: network unreachable (no route)",
        Cause.ADDRESS_NOT_LOCAL: f"Cannot connect to {target}: this machine has no source address or free "
                                 "local port for it (that address family disabled here, e.g. IPv6, or every "
                                 "ephemeral port in use)",
        Cause.FIREWALL_DROP: f"Connection to {target} blocked on this machine: a firewall rule (OUTPUT "
                             "chain) dropped the packet before it left",
    }.get(cause, f"Cannot connect to {target}")
    detail = f" ({facts})." if len(attempts) > 1 or cause not in _OUTCOME_WORDS else "."
    number = next((a.errno for a in attempts if a.cause is cause), None)
    return ConnectFailure(lead + detail, explanation=explanation_for(cause, host=host, port=port),
                          attempts=attempts, errno=number, host=host, port=port)
