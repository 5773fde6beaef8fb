"""TCP connect and UDP probes: one port or 65,535, with non-blocking sockets and one epoll loop.

Why not asyncio or threads: a full loopback scan is ~65k connect() calls, and per-port overhead decides
everything (measured in STYLE.md: asyncio 5-8 s, a bare epoll loop 1.5 s, nmap 1.1 s). So the loop here
keeps per-port work to four system calls on the common path (socket, connect, getsockopt, close): on
loopback the answer to a SYN is usually known when connect() returns, so SO_ERROR is read right away and
the socket only enters epoll when the answer is still on its way.

Classification (errno/timeout/ICMP -> state, reason) is pure and lives in ``netdiag.core.probe``.
"""

from __future__ import annotations

import errno as errno_codes
import heapq
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netdiag.adapters.icmp_watch import IcmpWatcher, open_icmp_watcher
from netdiag.core.icmp import IPPROTO_TCP, IPPROTO_UDP
from netdiag.core.probe import (
    IcmpReport,
    PortState,
    ProbeResult,
    Proto,
    Reason,
    classify_tcp_outcome,
    classify_udp_outcome,
    is_self_connection,
)

DEFAULT_TIMEOUT = 2.0
DEFAULT_CONCURRENCY = 1000
SELF_CONNECT_RETRIES = 3
UDP_PAYLOAD = b""  # an empty datagram: many services ignore it, which is why silence is open|filtered

Progress = Callable[[int, int], None]
_LINGER_RESET = struct.pack("ii", 1, 0)  # close() sends RST: no TIME_WAIT left behind by open ports
_IN_PROGRESS = (errno_codes.EINPROGRESS, errno_codes.EAGAIN, errno_codes.EALREADY)


@dataclass(frozen=True)
class ProbeJob:
    """One port of one resolved address; ``host`` is what the user typed (kept for the report)."""

    host: str
    address: str
    port: int


def probe_tcp(address: str, port: int, *, host: str | None = None,
              timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """Connect to ``address:port`` once and say how it went (never raises for a network answer)."""
    return scan_tcp([ProbeJob(host or address, address, port)], timeout=timeout)[0]


def probe_udp(address: str, port: int, *, host: str | None = None, timeout: float = DEFAULT_TIMEOUT,
              payload: bytes = UDP_PAYLOAD) -> ProbeResult:
    """Send one UDP datagram (twice if unanswered) to ``address:port`` and classify the answer."""
    return scan_udp([ProbeJob(host or address, address, port)], timeout=timeout, payload=payload)[0]


def scan_tcp(jobs: Sequence[ProbeJob], *, timeout: float = DEFAULT_TIMEOUT,
             concurrency: int = DEFAULT_CONCURRENCY, progress: Progress | None = None) -> list[ProbeResult]:
    """TCP-connect every job with at most ``concurrency`` attempts in flight; results in job order."""
    return _TcpScan(jobs, timeout, concurrency, progress).run()


def scan_udp(jobs: Sequence[ProbeJob], *, timeout: float = DEFAULT_TIMEOUT,
             concurrency: int = DEFAULT_CONCURRENCY, progress: Progress | None = None,
             payload: bytes = UDP_PAYLOAD) -> list[ProbeResult]:
    """UDP-probe every job with at most ``concurrency`` in flight; results in job order."""
    return _UdpScan(jobs, timeout, concurrency, progress, payload).run()


class _SockaddrCache:
    """``getaddrinfo`` once per address (IPv6 scope ids included), then only the port changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, tuple[object, ...]]] = {}

    def family_of(self, address: str) -> int:
        return self._lookup(address)[0]

    def sockaddr(self, address: str, port: int) -> tuple[object, ...]:
        template = self._lookup(address)[1]
        return (template[0], port, *template[2:])

    def _lookup(self, address: str) -> tuple[int, tuple[object, ...]]:
        if address not in self._cache:
            info = socket.getaddrinfo(address, 0, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)[0]
            self._cache[address] = (info[0], tuple(info[4]))
        return self._cache[address]


class _Scan:
    """What TCP and UDP scans share: the job queue, epoll, deadlines, ICMP watching, progress."""

    proto: Proto
    ip_proto: int

    def __init__(self, jobs: Sequence[ProbeJob], timeout: float, concurrency: int,
                 progress: Progress | None) -> None:
        self.jobs = jobs
        self.timeout = max(timeout, 0.001)
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.results: list[ProbeResult | None] = [None] * len(jobs)
        self.done = 0
        self.addresses = _SockaddrCache()
        self.epoll = select.epoll()
        self.in_flight: dict[int, tuple[int, socket.socket, float]] = {}  # fd -> job index, socket, start
        self.timers: list[tuple[float, int, int, bool]] = []  # heap of (when, fd, job index, final)
        self.queue: deque[int] = deque(range(len(jobs)))
        self.retries: dict[int, int] = {}
        self.awaiting_icmp: list[tuple[int, int | None, float]] = []  # (job index, errno, rtt)
        self.watcher: IcmpWatcher | None = None

    def run(self) -> list[ProbeResult]:
        families = {self.addresses.family_of(job.address) for job in self.jobs}
        self.watcher = open_icmp_watcher(families)
        try:
            self._loop()
        finally:
            for _, sock, _ in self.in_flight.values():
                sock.close()
            self.epoll.close()
            if self.watcher is not None:
                self.watcher.close()
        return [r for r in self.results if r is not None]

    def _loop(self) -> None:
        total, last_report = len(self.jobs), 0.0
        while self.queue or self.in_flight or self.awaiting_icmp:
            while self.queue and len(self.in_flight) < self.concurrency:
                self.start(self.queue.popleft())
            self._settle_icmp()
            if self.in_flight:
                wait = max(0.0, self.timers[0][0] - time.monotonic()) if self.timers else self.timeout
                for fd, events in self.epoll.poll(wait, 1024):
                    self.ready(fd, events)
                self._expire(time.monotonic())
                self._settle_icmp()
            if self.progress is not None:
                now = time.monotonic()
                if now - last_report >= 0.1 or self.done == total:
                    last_report = now
                    self.progress(self.done, total)

    def _expire(self, now: float) -> None:
        while self.timers and self.timers[0][0] <= now:
            _, fd, index, final = heapq.heappop(self.timers)
            entry = self.in_flight.get(fd)
            if entry is not None and entry[0] == index:
                if final:
                    self.expired(fd, index, now)
                else:
                    self.halfway(fd, index, now)

    def _settle_icmp(self) -> None:
        """Classify the errors that wait for their ICMP quote (read in one batch, one drain)."""
        if not self.awaiting_icmp:
            return
        if self.watcher is not None:
            self.watcher.drain()
        waiting, self.awaiting_icmp = self.awaiting_icmp, []
        for index, error, rtt in waiting:
            job = self.jobs[index]
            icmp = None
            if self.watcher is not None:
                icmp = self.watcher.report_for(self.ip_proto, job.address, job.port)
            self.classify_error(index, error, rtt, icmp)

    def track(self, index: int, sock: socket.socket, started: float, events: int) -> None:
        fd = sock.fileno()
        self.in_flight[fd] = (index, sock, started)
        self.epoll.register(fd, events)
        heapq.heappush(self.timers, (started + self.timeout, fd, index, True))

    def untrack(self, fd: int) -> tuple[int, socket.socket, float]:
        entry = self.in_flight.pop(fd)
        self.epoll.unregister(fd)
        return entry

    def finish(self, index: int, state: PortState, reason: Reason, rtt: float | None,
               error: int | None = None, icmp_from: str | None = None) -> None:
        job = self.jobs[index]
        self.results[index] = ProbeResult(
            host=job.host, address=job.address, port=job.port, proto=self.proto, state=state,
            reason=reason, rtt_ms=None if rtt is None else round(rtt * 1000, 3), errno=error,
            icmp_from=icmp_from,
        )
        self.done += 1

    def start(self, index: int) -> None:
        raise NotImplementedError

    def ready(self, fd: int, events: int) -> None:
        raise NotImplementedError

    def expired(self, fd: int, index: int, now: float) -> None:
        raise NotImplementedError

    def halfway(self, fd: int, index: int, now: float) -> None:
        """Half the timeout has passed without an answer (UDP retransmits here)."""

    def classify_error(self, index: int, error: int | None, rtt: float, icmp: IcmpReport | None) -> None:
        raise NotImplementedError


class _TcpScan(_Scan):
    proto = Proto.TCP
    ip_proto = IPPROTO_TCP

    def start(self, index: int) -> None:
        job = self.jobs[index]
        family = self.addresses.family_of(job.address)
        started = time.monotonic()
        try:
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError as exc:  # EMFILE and friends: a local problem, said per port
            self.finish(index, PortState.ERROR, Reason.LOCAL_ERROR, None, exc.errno)
            return
        error = sock.connect_ex(self.addresses.sockaddr(job.address, job.port))
        if error in _IN_PROGRESS:
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error == 0:  # still on its way, or already connected: let epoll say which
                self.track(index, sock, started, select.EPOLLOUT)
                return
        if error == 0:
            self._connected(index, sock, started)
            return
        sock.close()
        self.awaiting_icmp.append((index, error, time.monotonic() - started))

    def ready(self, fd: int, events: int) -> None:
        index, sock, started = self.untrack(fd)
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error == 0:
            self._connected(index, sock, started)
            return
        sock.close()
        self.awaiting_icmp.append((index, error, time.monotonic() - started))

    def expired(self, fd: int, index: int, now: float) -> None:
        _, sock, _ = self.untrack(fd)
        sock.close()
        state, reason = classify_tcp_outcome(None, timed_out=True)
        self.finish(index, state, reason, None)

    def classify_error(self, index: int, error: int | None, rtt: float, icmp: IcmpReport | None) -> None:
        state, reason = classify_tcp_outcome(error, icmp=icmp)
        self.finish(index, state, reason, rtt, error, icmp.sender if icmp else None)

    def _connected(self, index: int, sock: socket.socket, started: float) -> None:
        rtt = time.monotonic() - started
        try:
            local, remote = sock.getsockname(), sock.getpeername()
        except OSError as exc:  # reset between connect and now: the port answered, then closed
            sock.close()
            self.finish(index, PortState.CLOSED, Reason.RESET, rtt, exc.errno)
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        sock.close()
        if is_self_connection(local[:2], remote[:2]):
            tries = self.retries.get(index, 0) + 1
            self.retries[index] = tries
            if tries <= SELF_CONNECT_RETRIES:
                self.queue.append(index)  # another source port will be chosen
            else:  # the kernel only reuses a port nobody listens on, so nothing listens there
                self.finish(index, PortState.CLOSED, Reason.CONN_REFUSED, rtt)
            return
        self.finish(index, PortState.OPEN, Reason.SYN_ACK, rtt)


class _UdpScan(_Scan):
    proto = Proto.UDP
    ip_proto = IPPROTO_UDP

    def __init__(self, jobs: Sequence[ProbeJob], timeout: float, concurrency: int,
                 progress: Progress | None, payload: bytes) -> None:
        super().__init__(jobs, timeout, concurrency, progress)
        self.payload = payload

    def start(self, index: int) -> None:
        job = self.jobs[index]
        family = self.addresses.family_of(job.address)
        started = time.monotonic()
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        except OSError as exc:
            self.finish(index, PortState.ERROR, Reason.LOCAL_ERROR, None, exc.errno)
            return
        try:
            sock.connect(self.addresses.sockaddr(job.address, job.port))
            sock.send(self.payload)
        except OSError as exc:  # ENETUNREACH at once, or EPERM from a local OUTPUT rule
            sock.close()
            self.awaiting_icmp.append((index, exc.errno, time.monotonic() - started))
            return
        self.track(index, sock, started, select.EPOLLIN | select.EPOLLERR)
        heapq.heappush(self.timers, (started + self.timeout / 2, sock.fileno(), index, False))

    def ready(self, fd: int, events: int) -> None:
        index, sock, started = self.untrack(fd)
        rtt = time.monotonic() - started
        try:
            sock.recv(65535)
        except OSError as exc:  # ICMP error delivered on the connected socket
            sock.close()
            self.awaiting_icmp.append((index, exc.errno, rtt))
            return
        sock.close()
        state, reason = classify_udp_outcome(None, replied=True)
        self.finish(index, state, reason, rtt)

    def expired(self, fd: int, index: int, now: float) -> None:
        _, sock, _ = self.untrack(fd)
        sock.close()
        state, reason = classify_udp_outcome(None)
        self.finish(index, state, reason, None)

    def classify_error(self, index: int, error: int | None, rtt: float, icmp: IcmpReport | None) -> None:
        state, reason = classify_udp_outcome(error, icmp=icmp)
        self.finish(index, state, reason, rtt, error, icmp.sender if icmp else None)

    def halfway(self, fd: int, index: int, now: float) -> None:
        """Datagrams get lost: send the probe a second time, as nmap does."""
        _, sock, started = self.in_flight[fd]
        try:
            sock.send(self.payload)
        except OSError as exc:  # an ICMP error arrived meanwhile and surfaces on send
            self.untrack(fd)
            sock.close()
            self.awaiting_icmp.append((index, exc.errno, now - started))
