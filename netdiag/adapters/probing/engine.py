"""The probe loop: non-blocking sockets, one epoll, deadlines in a heap, outcomes as small tuples.

Where epoll is missing (macOS, Windows: ``platform.has_epoll()``) the same loop waits on the best
``selectors`` object the platform has (kqueue, poll, select; select() caps the sockets in flight), and
sockets are made non-blocking by a call where the creation flag does not exist.

Per-port overhead decides a full scan (STYLE.md: asyncio 5-8 s, a bare epoll loop 1.5 s, nmap 1.1 s for
65,535 loopback ports), so the common path of a closed port is two system calls and no allocation:

* connect() on a non-blocking socket returns EINPROGRESS; on loopback the RST has usually been processed
  by the time it returns, so a *second* connect() on the same socket reports the result right away
  (Linux ``__inet_stream_connect``: a socket in SS_CONNECTING whose TCP state is CLOSE returns its
  pending error and goes back to SS_UNCONNECTED; ESTABLISHED returns 0). Only EALREADY ("still on its
  way") puts the socket into epoll.
* A socket refused that way is disconnected and unbound again, so it is reused for the next port instead
  of being closed and a new one created (measured: 1.8x faster per closed port than socket+connect+
  getsockopt+close).

Outcomes are tuples, not ``ProbeResult``s: the prober builds those once, at the end, possibly after
merging worker processes.

Classification (errno / timeout / ICMP -> state, reason) is pure: ``netdiag.core.probe``.

About 450 lines, over the ~400 lines a module should keep: the base loop and its TCP and UDP scans are
kept together because their per-port tricks (above) only make sense read side by side.
"""

from __future__ import annotations

import _socket  # the C socket type: ~1 µs less per socket than socket.socket's Python wrapper
import errno as errno_codes
import heapq
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from netdiag.adapters import platform
from netdiag.adapters.probing.icmp import IcmpWatcher, open_icmp_watcher
from netdiag.core.icmp import IPPROTO_TCP, IPPROTO_UDP
from netdiag.core.probe import (
    IcmpReport,
    PortState,
    Reason,
    classify_tcp_outcome,
    classify_udp_outcome,
    is_self_connection,
)

SELF_CONNECT_RETRIES = 3
START_BATCH = 256  # sockets opened between two looks at epoll, so early answers are timed promptly

Progress = Callable[[int, int], None]
# (state, reason, rtt_ms, errno, icmp sender): one job's outcome, in job order
Outcome = tuple[PortState, Reason, "float | None", "int | None", "str | None"]

# EWOULDBLOCK: Winsock's answer to a non-blocking connect (WSAEWOULDBLOCK); EAGAIN's twin elsewhere
_IN_PROGRESS = (errno_codes.EINPROGRESS, errno_codes.EAGAIN, errno_codes.EALREADY, errno_codes.EWOULDBLOCK)
_CONNECTED = (0, errno_codes.EISCONN)  # a second connect() on an established socket (EISCONN on BSDs)
_REFUSED = errno_codes.ECONNREFUSED
_SPARE_SOCKETS = 64  # refused sockets kept for reuse, per address family
# Poll events: epoll's values, which the portable poller translates (the same numbers as poll()'s)
READABLE, WRITABLE, FAILED = 0x001, 0x004, 0x008
_EVENT_READ, _EVENT_WRITE = 1, 2  # selectors.EVENT_READ/EVENT_WRITE (the module is imported only when used)
_SOL_SOCKET, _SO_ERROR = socket.SOL_SOCKET, socket.SO_ERROR


class _Poller(Protocol):
    """What the loop needs of epoll; ``_PortablePoller`` offers the same on top of ``selectors``."""

    def register(self, fd: int, events: int) -> None: ...
    def unregister(self, fd: int) -> None: ...
    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]: ...
    def close(self) -> None: ...


class _PortablePoller:
    """epoll's interface (register/unregister/poll with epoll's event bits) over a ``selectors`` object."""

    def __init__(self) -> None:
        self.selector = platform.portable_selector()

    def register(self, fd: int, events: int) -> None:
        mask = ((_EVENT_READ if events & (READABLE | FAILED) else 0)
                | (_EVENT_WRITE if events & WRITABLE else 0))
        self.selector.register(fd, mask)

    def unregister(self, fd: int) -> None:
        self.selector.unregister(fd)

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        ready = self.selector.select(timeout)
        return [(key.fd, (READABLE if mask & _EVENT_READ else 0) | (WRITABLE if mask & _EVENT_WRITE else 0))
                for key, mask in ready[:maxevents]]

    def close(self) -> None:
        self.selector.close()


class ProbeJob(NamedTuple):
    """One port of one resolved address; ``host`` is what the user typed (kept for the report).

    A named tuple rather than a dataclass: a full scan makes 65,535 of them (0.3 µs each, not 1.6)."""

    host: str
    address: str
    port: int


class _Sockaddrs:
    """``getaddrinfo`` once per address (IPv6 scope ids included); then only the port changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, tuple[object, ...]]] = {}

    def family_of(self, address: str) -> int:
        return self._lookup(address)[0]

    def resolve(self, address: str, port: int) -> tuple[int, tuple[object, ...]]:
        """``(family, sockaddr)`` for ``address:port``; the hot path of a scan, so kept short."""
        entry = self._cache.get(address) or self._lookup(address)
        template = entry[1]
        if len(template) == 2:
            return entry[0], (template[0], port)
        return entry[0], (template[0], port, *template[2:])

    def sockaddr(self, address: str, port: int) -> tuple[object, ...]:
        template = self._lookup(address)[1]
        return (template[0], port, *template[2:])

    def _lookup(self, address: str) -> tuple[int, tuple[object, ...]]:
        entry = self._cache.get(address)
        if entry is None:
            # bytes: a str host goes through the idna codec, whose import costs a single probe ~3 ms
            info = socket.getaddrinfo(address.encode(), 0, 0, socket.SOCK_STREAM, 0,
                                      socket.AI_NUMERICHOST)[0]
            entry = self._cache[address] = (info[0], tuple(info[4]))
        return entry


class Scan:
    """What TCP and UDP scans share: the job queue, epoll, deadlines, ICMP watching, progress."""

    ip_proto: int

    def __init__(self, jobs: Sequence[ProbeJob], *, timeout: float, concurrency: int,
                 progress: Progress | None = None) -> None:
        self.jobs = jobs
        self.timeout = max(timeout, 0.001)
        self.poller: _Poller = platform.new_epoll() if platform.has_epoll() else _PortablePoller()
        capacity = None if platform.has_epoll() else platform.selector_capacity()
        self.concurrency = max(1, concurrency if capacity is None else min(concurrency, capacity))
        flag = platform.nonblocking_flag()
        self.stream_type, self.dgram_type = socket.SOCK_STREAM | flag, socket.SOCK_DGRAM | flag
        self.set_blocking = not flag  # no non-blocking flag: each new socket is made non-blocking by a call
        self.progress = progress
        self.outcomes: list[Outcome | None] = [None] * len(jobs)
        self.done = 0
        self.addresses = _Sockaddrs()
        self.in_flight: dict[int, tuple[int, _socket.socket, float]] = {}  # fd -> (job, socket, start)
        self.timers: list[tuple[float, int, float, bool]] = []  # heap of (when, fd, started, final)
        self.queue: deque[int] = deque(range(len(jobs)))
        self.retries: dict[int, int] = {}
        self.awaiting_icmp: list[tuple[int, int, float]] = []  # (job, errno, rtt seconds)
        self.watcher: IcmpWatcher | None = None
        self.verdicts: dict[int, tuple[PortState, Reason]] = {}  # errno -> verdict when no ICMP is seen

    def run(self) -> list[Outcome]:
        """Probe every job; outcomes in job order."""
        addresses = {job.address for job in self.jobs}  # a few distinct ones, however many ports
        self.watcher = open_icmp_watcher({self.addresses.family_of(address) for address in addresses})
        try:
            self._loop()
        finally:
            for _, sock, _ in self.in_flight.values():
                sock.close()
            self.poller.close()
            if self.watcher is not None:
                self.watcher.close()
        return [outcome for outcome in self.outcomes if outcome is not None]

    def _loop(self) -> None:
        total, last_report = len(self.jobs), 0.0
        queue, in_flight, start = self.queue, self.in_flight, self.start
        while queue or in_flight or self.awaiting_icmp:
            budget = START_BATCH
            while queue and budget and len(in_flight) < self.concurrency:
                start(queue.popleft())
                budget -= 1
            self._settle_icmp()
            if in_flight:
                if queue and len(in_flight) < self.concurrency:
                    wait = 0.0
                elif self.timers:
                    wait = max(0.0, self.timers[0][0] - time.monotonic())
                else:
                    wait = self.timeout
                for fd, events in self.poller.poll(wait, 1024):
                    self.ready(fd, events)
                self._expire(time.monotonic())
                self._settle_icmp()
            if self.progress is not None:
                now = time.monotonic()
                if now - last_report >= 0.1 or self.done == total:
                    last_report = now
                    self.progress(self.done, total)

    def _expire(self, now: float) -> None:
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, fd, started, final = heapq.heappop(timers)
            entry = self.in_flight.get(fd)
            if entry is not None and entry[2] == started:  # not a later socket that reused the fd
                if final:
                    self.expired(fd, entry[0])
                else:
                    self.halfway(fd, entry[0], now)

    def _settle_icmp(self) -> None:
        """Classify errors waiting for their ICMP quote: one drain of the raw socket per batch."""
        if not self.awaiting_icmp:
            return
        waiting, self.awaiting_icmp = self.awaiting_icmp, []
        watcher = self.watcher
        if watcher is not None:
            watcher.drain()
            if not watcher.pending:
                watcher = None  # nothing quoted at all: every errno stands on its own (fast path)
        if watcher is None:  # the common case, inlined: a full scan comes through here 65,535 times
            verdicts, outcomes, settled = self.verdicts, self.outcomes, 0
            for index, error, rtt in waiting:
                verdict = verdicts.get(error)
                if verdict is None:
                    self.classify_error(index, error, rtt, None)
                else:
                    outcomes[index] = (verdict[0], verdict[1], round(rtt * 1000, 3), error, None)
                    settled += 1
            self.done += settled
            return
        jobs, classify = self.jobs, self.classify_error
        for index, error, rtt in waiting:
            icmp = None
            if watcher is not None:
                job = jobs[index]
                icmp = watcher.report_for(self.ip_proto, job.address, job.port)
            classify(index, error, rtt, icmp)

    def track(self, index: int, sock: _socket.socket, started: float, events: int,
              halfway: bool = False) -> None:
        fd = sock.fileno()
        self.in_flight[fd] = (index, sock, started)
        self.poller.register(fd, events)
        heapq.heappush(self.timers, (started + self.timeout, fd, started, True))
        if halfway:
            heapq.heappush(self.timers, (started + self.timeout / 2, fd, started, False))

    def untrack(self, fd: int) -> tuple[int, _socket.socket, float]:
        entry = self.in_flight.pop(fd)
        self.poller.unregister(fd)
        return entry

    def finish(self, index: int, state: PortState, reason: Reason, rtt: float | None,
               error: int | None = None, icmp_from: str | None = None) -> None:
        rtt_ms = None if rtt is None else round(rtt * 1000, 3)
        self.outcomes[index] = (state, reason, rtt_ms, error, icmp_from)
        self.done += 1

    def start(self, index: int) -> None:
        raise NotImplementedError

    def ready(self, fd: int, events: int) -> None:
        raise NotImplementedError

    def expired(self, fd: int, index: int) -> None:
        raise NotImplementedError

    def halfway(self, fd: int, index: int, now: float) -> None:
        """Half the timeout passed without an answer (UDP sends its probe again here)."""

    def classify_error(self, index: int, error: int, rtt: float, icmp: IcmpReport | None) -> None:
        state, reason = self.classify(error, icmp)
        if icmp is None:
            self.verdicts[error] = (state, reason)
        self.finish(index, state, reason, rtt, error, icmp.sender if icmp else None)

    def classify(self, error: int, icmp: IcmpReport | None) -> tuple[PortState, Reason]:
        raise NotImplementedError


class TcpScan(Scan):
    """TCP connect probes: open (handshake done), closed (RST), filtered/unreachable (ICMP or silence)."""

    ip_proto = IPPROTO_TCP

    def __init__(self, jobs: Sequence[ProbeJob], *, timeout: float, concurrency: int,
                 progress: Progress | None = None) -> None:
        super().__init__(jobs, timeout=timeout, concurrency=concurrency, progress=progress)
        self._spare: dict[int, list[_socket.socket]] = {}  # family -> refused sockets, ready for reuse

    def run(self) -> list[Outcome]:
        try:
            return super().run()
        finally:
            for spares in self._spare.values():
                for sock in spares:
                    sock.close()

    def start(self, index: int) -> None:
        job = self.jobs[index]
        family, address = self.addresses.resolve(job.address, job.port)
        spares = self._spare.get(family)
        started = time.monotonic()
        if spares:
            sock = spares.pop()
        else:
            try:
                sock = _socket.socket(family, self.stream_type)
                if self.set_blocking:
                    sock.setblocking(False)
            except OSError as exc:  # EMFILE and friends: a local problem, reported per port
                self.finish(index, PortState.ERROR, Reason.LOCAL_ERROR, None, exc.errno)
                return
        error = sock.connect_ex(address)
        if error in _IN_PROGRESS:
            error = sock.connect_ex(address)  # the answer, if it is already here (see module docstring)
            if error in _IN_PROGRESS:
                self.track(index, sock, started, WRITABLE)
                return
        if error in _CONNECTED:
            self._connected(index, sock, started)
            return
        if error == _REFUSED:
            self._spare.setdefault(family, [])
            if len(self._spare[family]) < _SPARE_SOCKETS:
                self._spare[family].append(sock)
            else:
                sock.close()
        else:
            sock.close()
        self.awaiting_icmp.append((index, error, time.monotonic() - started))

    def ready(self, fd: int, events: int) -> None:
        index, sock, started = self.untrack(fd)
        error = sock.getsockopt(_SOL_SOCKET, _SO_ERROR)
        if error == 0:
            self._connected(index, sock, started)
            return
        sock.close()
        self.awaiting_icmp.append((index, error, time.monotonic() - started))

    def expired(self, fd: int, index: int) -> None:
        _, sock, _ = self.untrack(fd)
        sock.close()
        state, reason = classify_tcp_outcome(None, timed_out=True)
        self.finish(index, state, reason, None)

    def classify(self, error: int, icmp: IcmpReport | None) -> tuple[PortState, Reason]:
        return classify_tcp_outcome(error, icmp=icmp)

    def _connected(self, index: int, sock: _socket.socket, started: float) -> None:
        rtt = time.monotonic() - started
        try:
            local, remote = sock.getsockname(), sock.getpeername()
        except OSError as exc:  # reset between the handshake and now: it answered, then closed
            sock.close()
            self.finish(index, PortState.CLOSED, Reason.RESET, rtt, exc.errno)
            return
        _close_gracefully(sock)
        if is_self_connection(local[:2], remote[:2]):
            tries = self.retries[index] = self.retries.get(index, 0) + 1
            if tries <= SELF_CONNECT_RETRIES:
                self.queue.append(index)  # a new socket gets another source port
            else:  # the kernel never picks a port someone listens on as source: nothing listens here
                self.finish(index, PortState.CLOSED, Reason.CONN_REFUSED, rtt)
            return
        self.finish(index, PortState.OPEN, Reason.SYN_ACK, rtt)


def _close_gracefully(sock: _socket.socket) -> None:
    """Close with a FIN, never a RST: a server whose recv() fails with ECONNRESET may die of it (the lab's
    one-client echo server does), one that reads an end of stream just ends that session. Whatever the
    server already sent is read first, since closing with unread data makes the kernel send a RST."""
    try:
        for _ in range(16):  # bounded: a server that streams without end must not hold the scan
            if not sock.recv(65536):
                break
    except OSError:  # EAGAIN: nothing more has arrived (or the connection already broke)
        pass
    sock.close()


class UdpScan(Scan):
    """UDP probes: open (a reply), closed (ICMP port-unreachable), open|filtered (silence)."""

    ip_proto = IPPROTO_UDP

    def __init__(self, jobs: Sequence[ProbeJob], *, timeout: float, concurrency: int,
                 progress: Progress | None = None, payload: bytes = b"") -> None:
        super().__init__(jobs, timeout=timeout, concurrency=concurrency, progress=progress)
        self.payload = payload

    def start(self, index: int) -> None:
        job = self.jobs[index]
        started = time.monotonic()
        try:
            sock = _socket.socket(self.addresses.family_of(job.address), self.dgram_type)
            if self.set_blocking:
                sock.setblocking(False)
        except OSError as exc:
            self.finish(index, PortState.ERROR, Reason.LOCAL_ERROR, None, exc.errno)
            return
        try:
            sock.connect(self.addresses.sockaddr(job.address, job.port))
            sock.send(self.payload)
        except OSError as exc:  # ENETUNREACH at once, or EPERM from a local OUTPUT rule
            sock.close()
            self.awaiting_icmp.append((index, exc.errno or 0, time.monotonic() - started))
            return
        self.track(index, sock, started, READABLE | FAILED, halfway=True)

    def ready(self, fd: int, events: int) -> None:
        index, sock, started = self.untrack(fd)
        rtt = time.monotonic() - started
        try:
            sock.recv(65535)
        except OSError as exc:  # the ICMP error, delivered on the connected socket
            sock.close()
            self.awaiting_icmp.append((index, exc.errno or 0, rtt))
            return
        sock.close()
        state, reason = classify_udp_outcome(None, replied=True)
        self.finish(index, state, reason, rtt)

    def expired(self, fd: int, index: int) -> None:
        _, sock, _ = self.untrack(fd)
        sock.close()
        state, reason = classify_udp_outcome(None)
        self.finish(index, state, reason, None)

    def halfway(self, fd: int, index: int, now: float) -> None:
        """Datagrams get lost: send the probe a second time, as nmap does."""
        _, sock, started = self.in_flight[fd]
        try:
            sock.send(self.payload)
        except OSError as exc:  # an ICMP error arrived meanwhile and surfaces on send
            self.untrack(fd)
            sock.close()
            self.awaiting_icmp.append((index, exc.errno or 0, now - started))

    def classify(self, error: int, icmp: IcmpReport | None) -> tuple[PortState, Reason]:
        return classify_udp_outcome(error, icmp=icmp)
