"""Half-open SYN probes from a raw socket (``nmap -sS``): the server's ``accept()`` never returns.

A connect probe completes the handshake, so the server's ``accept()`` hands it our connection: a server
that serves one client has just served us, a server that logs disconnections logs us. A SYN sent from a
raw socket asks the server's *kernel* instead: a listening port answers SYN-ACK, a closed one RST, a
firewall ICMP or silence. The SYN-ACK comes back to a source port that we hold with a bound but not
listening TCP socket (so no other connection can take the port meanwhile), and for such a port our
kernel answers RST by itself: the half-open connection dies in the server's SYN queue and never
reaches its accept queue.

Needs a raw socket (root, or CAP_NET_RAW): ``open_syn_scan`` returns None without it and the caller
falls back to connecting. ICMP errors are matched with the same watcher as the connect scanner.
Outcomes are the connect scanner's tuples and vocabulary (``open``/``syn-ack``, ``closed``/
``conn-refused`` for a RST, ``filtered``/``no-response`` ...), so every report reads the same.
"""

from __future__ import annotations

import heapq
import os
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Sequence

from netdiag.adapters.platform import receive_buffer_options
from netdiag.adapters.probing.engine import Outcome, ProbeJob, Progress
from netdiag.adapters.probing.icmp import IcmpWatcher, open_icmp_watcher
from netdiag.core.icmp import IPPROTO_TCP
from netdiag.core.probe import IcmpReport, PortState, Reason, classify_tcp_outcome

_TCP = struct.Struct("!HHIIBBHHH")  # sport dport seq ack offset flags window checksum urgent
_MSS_OPTION = b"\x02\x04\x05\xb4"  # MSS 1460, as a real SYN carries (some stacks ignore bare SYNs)
_SYN, _RST, _ACK = 0x02, 0x04, 0x10
_WINDOW = 64240
_RECV_BATCH = 512
_RECEIVE_BUFFER = 8 << 20  # every TCP packet of the host is copied to a raw socket: room for bursts


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn_segment(source: str, destination: str, sport: int, dport: int, seq: int, family: int) -> bytes:
    """A TCP SYN (20-byte header + MSS option) with its checksum over the pseudo-header."""
    header = _TCP.pack(sport, dport, seq, 0, 6 << 4, _SYN, _WINDOW, 0, 0) + _MSS_OPTION
    src, dst = socket.inet_pton(family, source), socket.inet_pton(family, destination)
    if family == socket.AF_INET:
        pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(header))
    else:
        pseudo = src + dst + struct.pack("!I3xB", len(header), socket.IPPROTO_TCP)
    checksum = _checksum(pseudo + header)
    return header[:16] + struct.pack("!H", checksum) + header[18:]


class _Template:
    """A SYN to one address with only the destination port left open: the checksum of everything else
    is summed once, so each port costs one addition (a full scan builds 65,535 of them)."""

    def __init__(self, source: str, destination: str, sport: int, seq: int, family: int) -> None:
        header = syn_segment(source, destination, sport, 0, seq, family)
        self.head, self.middle, self.tail = header[:2], header[4:16], header[18:]
        self.base = (~struct.unpack("!H", header[16:18])[0]) & 0xFFFF  # the one's-complement sum

    def segment(self, dport: int) -> bytes:
        total = self.base + dport
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        return b"".join((self.head, _PORT.pack(dport), self.middle, _PORT.pack(~total & 0xFFFF), self.tail))


_PORT = struct.Struct("!H")


class _Source:
    """Per (family, source address): a held source port and the raw socket that sends and listens."""

    def __init__(self, family: int, address: str, raw: socket.socket) -> None:
        self.family, self.address, self.raw = family, address, raw
        self.holder = socket.socket(family, socket.SOCK_STREAM)  # bound, never listening: RSTs SYN-ACKs
        self.holder.bind((address, 0))
        self.port = int(self.holder.getsockname()[1])

    def close(self) -> None:
        self.holder.close()


class SynScan:
    """SYN every job (at most ``concurrency`` unanswered at once), one retransmission at half the timeout."""

    def __init__(self, jobs: Sequence[ProbeJob], *, timeout: float, concurrency: int,
                 progress: Progress | None = None) -> None:
        self.jobs, self.timeout, self.concurrency = jobs, max(timeout, 0.001), max(1, concurrency)
        self.raws: dict[int, socket.socket] = {}
        self.progress = progress
        self.outcomes: list[Outcome | None] = [None] * len(jobs)
        self.done = 0
        self.sources: dict[tuple[int, str], _Source] = {}
        self.routes: dict[str, tuple[int, tuple[object, ...], _Source, str, _Template] | OSError] = {}
        self.names: dict[bytes, str] = {}
        self.pending: dict[tuple[str, int, int], tuple[int, float]] = {}  # (addr, dport, sport) -> job, t0
        self.timers: list[tuple[float, int, bool]] = []  # (when, job, final)
        self.seq = int.from_bytes(os.urandom(4), "big")
        self.watcher: IcmpWatcher | None = None

    def run(self) -> list[Outcome]:
        families: set[int] = {socket.AF_INET6 if ":" in job.address else socket.AF_INET for job in self.jobs}
        raws = open_raw_sockets(families)
        if raws is None:
            raise PermissionError("raw sockets are not allowed here")
        self.raws = raws
        self.watcher = open_icmp_watcher(families)
        try:
            self._loop()
        finally:
            for source in self.sources.values():
                source.close()
            for raw in raws.values():
                raw.close()
            if self.watcher is not None:
                self.watcher.close()
        return [outcome for outcome in self.outcomes if outcome is not None]

    def _loop(self) -> None:
        queue: deque[int] = deque(range(len(self.jobs)))
        total, last_report = len(self.jobs), 0.0
        raws = list(self.raws.values())
        while queue or self.pending:
            while queue and len(self.pending) < self.concurrency:
                self._send(queue.popleft())
            wait = 0.0 if queue and len(self.pending) < self.concurrency else \
                max(0.0, self.timers[0][0] - time.monotonic()) if self.timers else 0.0
            if self.watcher is not None:
                wait = min(wait, 0.005)  # ICMP arrives on the watcher's own sockets: look at it often
            if self.pending:
                readable, _, _ = select.select(raws, [], [], wait)
                for raw in readable:
                    self._receive(raw)
                self._icmp()
                self._expire(time.monotonic())
            if self.progress is not None:
                now = time.monotonic()
                if now - last_report >= 0.1 or self.done == total:
                    last_report = now
                    self.progress(self.done, total)

    def _set(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = outcome
        self.done += 1

    def _route(self, address: str) -> tuple[int, tuple[object, ...], _Source, str, _Template] | OSError:
        route = self.routes.get(address)
        if route is None:
            try:
                info = socket.getaddrinfo(address.encode(), 0, 0, socket.SOCK_STREAM, 0,
                                          socket.AI_NUMERICHOST)[0]
                family, sockaddr = info[0], tuple(info[4])
                with socket.socket(family, socket.SOCK_DGRAM) as probe:
                    probe.connect(sockaddr)  # the kernel's route and source address; sends nothing
                    source_address = str(probe.getsockname()[0]).split("%", 1)[0]
                key = (family, source_address)
                source = self.sources.get(key)
                if source is None:
                    source = self.sources[key] = _Source(family, source_address, self.raws[family])
                target = str(sockaddr[0]).split("%", 1)[0]
                template = _Template(source.address, target, source.port, self.seq, family)
                destination = (sockaddr[0], 0, *sockaddr[2:]) if family == socket.AF_INET6 else \
                    (sockaddr[0], 0)
                route = (family, destination, source, target, template)
            except OSError as exc:
                route = exc
            self.routes[address] = route
        return route

    def _send(self, index: int, retry: bool = False) -> None:
        job = self.jobs[index]
        route = self._route(job.address)
        started = time.monotonic()
        if isinstance(route, OSError):
            self._finish_error(index, route.errno or 0, 0.0)
            return
        _family, destination, source, target, template = route
        try:
            source.raw.sendto(template.segment(job.port), destination)
        except OSError as exc:  # ENETUNREACH at once, EPERM from a local OUTPUT rule
            self.pending.pop((target, job.port, source.port), None)
            self._finish_error(index, exc.errno or 0, time.monotonic() - started)
            return
        if retry:
            heapq.heappush(self.timers, (self.pending[(target, job.port, source.port)][1] + self.timeout,
                                         index, True))
            return
        self.pending[(target, job.port, source.port)] = (index, started)
        heapq.heappush(self.timers, (started + self.timeout / 2, index, False))

    def _receive(self, raw: socket.socket) -> None:
        for _ in range(_RECV_BATCH):
            try:
                packet, sender = raw.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            now = time.monotonic()
            if raw.family == socket.AF_INET:
                start = (packet[0] & 0x0F) * 4 if packet else 0
                raw_address = packet[12:16]
                address = self.names.get(raw_address)
                if address is None:
                    if len(raw_address) < 4:
                        continue
                    address = self.names[raw_address] = socket.inet_ntop(socket.AF_INET, raw_address)
            else:
                start, address = 0, str(sender[0]).split("%", 1)[0]
            if len(packet) < start + 20:
                continue
            sport, dport, _seq, ack, _offset, flags, _w, _c, _u = _TCP.unpack_from(packet, start)
            entry = self.pending.get((address, sport, dport))
            if entry is None or not flags & _ACK or ack != (self.seq + 1) & 0xFFFFFFFF:
                continue  # not an answer to one of our SYNs (another connection's traffic, or our own SYN)
            index, started = entry
            del self.pending[(address, sport, dport)]
            rtt_ms = round((now - started) * 1000, 3)
            if flags & _RST:
                self._set(index, (PortState.CLOSED, Reason.CONN_REFUSED, rtt_ms, None, None))
            elif flags & _SYN:
                self._set(index, (PortState.OPEN, Reason.SYN_ACK, rtt_ms, None, None))
            else:
                self.pending[(address, sport, dport)] = entry  # a stray ACK: keep waiting

    def _icmp(self) -> None:
        watcher = self.watcher
        if watcher is None:
            return
        watcher.drain()
        if not watcher.pending:
            return
        for key, (index, started) in list(self.pending.items()):
            report = watcher.report_for(IPPROTO_TCP, key[0], key[1])
            if report is not None:
                del self.pending[key]
                self._finish_icmp(index, report, time.monotonic() - started)

    def _finish_icmp(self, index: int, report: IcmpReport, rtt: float) -> None:
        verdict = report.verdict or (PortState.UNREACHABLE, Reason.HOST_UNREACH)
        self._set(index, (verdict[0], verdict[1], round(rtt * 1000, 3), None, report.sender))

    def _finish_error(self, index: int, error: int, rtt: float) -> None:
        state, reason = classify_tcp_outcome(error)
        self._set(index, (state, reason, round(rtt * 1000, 3), error, None))

    def _expire(self, now: float) -> None:
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, index, final = heapq.heappop(timers)
            if self.outcomes[index] is not None:
                continue
            if not final:
                self._send(index, retry=True)  # SYNs get lost too: once more, as nmap does
                continue
            self.pending.pop(self._key(self.jobs[index]), None)
            state, reason = classify_tcp_outcome(None, timed_out=True)
            self._set(index, (state, reason, None, None, None))

    def _key(self, job: ProbeJob) -> tuple[str, int, int]:
        route = self.routes[job.address]
        assert not isinstance(route, OSError)
        return (route[3], job.port, route[2].port)


def open_raw_sockets(families: set[int]) -> dict[int, socket.socket] | None:
    """Raw TCP sockets for ``families``, or None without the privilege (root or CAP_NET_RAW)."""
    raws: dict[int, socket.socket] = {}
    for family in sorted(families):
        try:
            raw = raws[family] = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_TCP)
            raw.setblocking(False)
            # a full receive buffer drops answers, which then cost a retransmission and half a timeout
            for option in receive_buffer_options():
                try:
                    raw.setsockopt(socket.SOL_SOCKET, option, _RECEIVE_BUFFER)
                    break
                except OSError:
                    continue
        except PermissionError:
            for raw in raws.values():
                raw.close()
            return None
        except OSError:  # the family is not supported here (IPv6 off): its probes fail on their own
            continue
    return raws


def scan_syn(jobs: Sequence[ProbeJob], *, timeout: float, concurrency: int,
             progress: Progress | None = None) -> list[Outcome] | None:
    """SYN-probe every job; None (and nothing sent) when raw sockets are not allowed here. Big scans are
    split across forked workers like connect scans (each with its own raw sockets and source port)."""
    from netdiag.adapters.platform import is_linux
    from netdiag.adapters.probing.workers import run_scan

    if not is_linux():  # BSD raw sockets are never handed TCP segments
        return None
    families: set[int] = {socket.AF_INET6 if ":" in job.address else socket.AF_INET for job in jobs}
    raws = open_raw_sockets(families)
    if raws is None:
        return None
    usable = set(raws)
    for raw in raws.values():
        raw.close()
    if usable != families:  # e.g. IPv6 disabled: let the connect scanner report those addresses
        return None

    def factory(share: Sequence[ProbeJob], in_flight: int, report: Progress | None) -> SynScan:
        return SynScan(share, timeout=timeout, concurrency=in_flight, progress=report)

    return run_scan(factory, jobs, concurrency, progress, None)  # type: ignore[arg-type]
