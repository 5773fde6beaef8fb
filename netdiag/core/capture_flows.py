"""Following every TCP connection and UDP flow of a capture file, one packet at a time, in bounded memory.

``FlowTable.add_records`` takes decoded records in capture order (``netdiag.core.pcap_format`` and
``netdiag.core.pcap_packets``) and keeps, per connection, only counters and times: the SYNs, the
answer to them (SYN-ACK, RST, or an ICMP error that quotes the SYN), FINs and RSTs with who sent them
and when, payload bytes each way, retransmitted data and zero-window advertisements. For the ladder
diagram it keeps the first ``HEAD_ROWS`` and the last ``TAIL_ROWS`` segments of a connection, and drops
them as soon as the connection closed cleanly (unless the caller asked for that connection's ladder).
At most ``max_flows`` connections and flows are followed; the packets of any beyond are counted, so the
report can say what it left out. ``netdiag.core.capture_verdicts`` turns the state into verdicts.

Connections are numbered in the order of their first packet, TCP and UDP together, starting at 1; the
same file always gives the same numbers, so ``--connection N`` can name one before the file is read.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from netdiag.core.pcap_packets import ACK, FIN, ICMP, RST, SYN, TCP, UDP, decode

HEAD_ROWS = 24
TAIL_ROWS = 16
MAX_FLOWS = 100_000
MAX_HOSTS = 65_536
_MASK = 0xFFFFFFFF
_HALF = 0x80000000

# The fast path: where an IPv4 header starts for link types whose header needs no other check than the
# IP version byte (Ethernet also needs its EtherType: 0x0800). Cooked captures take the general path,
# which skips the loopback copies they hold twice.
_FAST_OFFSET = {1: 14, 101: 0, 228: 0, 12: 0, 14: 0, 0: 4, 108: 4}
_IPV4_TCP = struct.Struct("!xxHxxxxxxxx4s4sHHIIBBH").unpack_from  # IPv4 (IHL 5) + TCP to the window

Row = tuple[float, bool, int, int, int, int, int, bytes]
"""One segment kept for the ladder: time, from the client?, flags, seq, ack, payload length, window,
raw TCP options."""

Icmp = tuple[int, int, bytes, float]
"""An ICMP destination-unreachable about a flow: family (4 or 6), code, sender, time."""


@dataclass(eq=False, slots=True)
class TcpFlow:
    """What one TCP connection did so far. Index 0 of the pairs is the client's side, 1 the server's."""

    number: int
    client: bytes
    client_port: int
    server: bytes
    server_port: int
    first: float
    saw_syn: bool  # the opening SYN is in the capture (otherwise the connection was already open)
    last: float = 0.0
    packets: int = 0
    client_isn: int | None = None
    syn_times: list[float] = field(default_factory=list)
    syn_ack_time: float | None = None
    established: bool = False
    payload: list[int] = field(default_factory=lambda: [0, 0])
    fin_time: list[float | None] = field(default_factory=lambda: [None, None])
    first_fin: int | None = None
    data_after_fin: bool = False
    rst_by: int | None = None
    rst_time: float | None = None
    rst_after: tuple[int, int] = (0, 0)
    icmp: Icmp | None = None
    next_seq: list[int | None] = field(default_factory=lambda: [None, None])
    retransmissions: list[int] = field(default_factory=lambda: [0, 0])
    zero_windows: list[int] = field(default_factory=lambda: [0, 0])
    in_zero: list[bool] = field(default_factory=lambda: [False, False])
    head: list[Row] | None = field(default_factory=list)
    tail: deque[Row] | None = field(default_factory=lambda: deque(maxlen=TAIL_ROWS))
    rows: int = 0

    @property
    def closed(self) -> bool:
        return self.fin_time[0] is not None and self.fin_time[1] is not None


@dataclass(eq=False, slots=True)
class UdpFlow:
    """Datagrams between two endpoints; side 0 sent the first one."""

    number: int
    client: bytes
    client_port: int
    server: bytes
    server_port: int
    first: float
    last: float = 0.0
    datagrams: list[int] = field(default_factory=lambda: [0, 0])
    payload: list[int] = field(default_factory=lambda: [0, 0])
    icmp: Icmp | None = None


Flow = TcpFlow | UdpFlow


@dataclass
class FlowTable:
    """Every connection of a capture, fed decoded records in capture order."""

    keep: frozenset[int] = frozenset()  # connection numbers whose ladder is kept even when they succeed
    max_flows: int = MAX_FLOWS
    flows: list[Flow] = field(default_factory=list)
    packets: int = 0  # records read
    ip_packets: int = 0
    untracked_packets: int = 0  # TCP/UDP packets of flows beyond max_flows
    hosts: set[bytes] = field(default_factory=set)  # addresses that sent anything: proof they are up
    first_time: float | None = None
    last_time: float = 0.0
    _tcp: dict[tuple[bytes, int, bytes, int], tuple[TcpFlow, bool]] = field(default_factory=dict)
    _udp: dict[tuple[bytes, int, bytes, int], tuple[UdpFlow, bool]] = field(default_factory=dict)

    def add_records(self, records: Iterable[tuple[int, float, bytes]]) -> None:
        """Decode and follow each (link type, time, bytes) record."""
        tcp, udp, hosts = self._add_tcp, self._add_udp, self.hosts
        fast_offset, ipv4_tcp = _FAST_OFFSET.get, _IPV4_TCP
        count = 0
        time = self.last_time
        if self.first_time is None and isinstance(records, list) and records:
            self.first_time = records[0][1]
        for link, time, data in records:
            count += 1
            pos = fast_offset(link, -1)
            # IPv4 without options, TCP, not a later fragment: decoded inline (most packets of a capture)
            if (pos >= 0 and len(data) >= pos + 40 and data[pos] == 0x45 and data[pos + 9] == 6
                    and not (data[pos + 6] & 0x1F or data[pos + 7])
                    and (pos != 14 or data[12:14] == b"\x08\x00")):
                total, src, dst, sport, dport, seq, ack, offset, flags, window = ipv4_tcp(data, pos)
                header = (offset >> 4) * 4
                end = min(pos + total, len(data)) if total else len(data)
                self.ip_packets += 1
                if src not in hosts and len(hosts) < MAX_HOSTS:
                    hosts.add(src)
                tcp(time, src, dst, sport, dport, seq, ack, flags, window, max(end - pos - 20 - header, 0),
                    data[pos + 40:pos + 20 + header] if header > 20 else b"")
                continue
            decoded = decode(link, data)
            if decoded is None:
                continue
            self.ip_packets += 1
            src = decoded[1]
            if src not in hosts and len(hosts) < MAX_HOSTS:
                hosts.add(src)  # type: ignore[arg-type]
            kind = decoded[0]
            if kind == TCP:
                tcp(time, *decoded[1:])  # type: ignore[arg-type]
            elif kind == UDP:
                udp(time, *decoded[1:])  # type: ignore[arg-type]
            elif kind == ICMP:
                self._add_icmp(time, *decoded[1:])  # type: ignore[arg-type]
            if self.first_time is None:
                self.first_time = time
        self.packets += count
        if count:
            self.last_time = time

    def _room(self) -> bool:
        if len(self.flows) < self.max_flows:
            return True
        self.untracked_packets += 1
        return False

    def _add_tcp(self, time: float, src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int,
                 flags: int, window: int, length: int, options: bytes) -> None:
        found = self._tcp.get((src, sport, dst, dport))
        opening = flags & SYN and not flags & ACK
        if found is None or (opening and found[1] and found[0].client_isn != seq):
            if found is None and not self._room():
                return
            flow = self._new_tcp(time, src, dst, sport, dport, flags)
            found = self._tcp[(src, sport, dst, dport)]
        flow, from_client = found
        side = 0 if from_client else 1
        flow.packets += 1
        flow.last = time
        if flow.head is not None and flow.tail is not None:
            row = (time, from_client, flags, seq, ack, length, window, options)
            if flow.rows < HEAD_ROWS:
                flow.head.append(row)
            else:
                flow.tail.append(row)
        flow.rows += 1
        if flags & SYN:
            if from_client and not flags & ACK:
                if flow.client_isn is None:
                    flow.client_isn = seq
                flow.syn_times.append(time)
            elif not from_client and flags & ACK and flow.syn_ack_time is None:
                flow.syn_ack_time = time
            flow.next_seq[side] = (seq + 1 + length) & _MASK
        else:
            if from_client and flags & ACK and flow.syn_ack_time is not None:
                flow.established = True
            if flags & RST:
                if flow.rst_by is None:
                    flow.rst_by, flow.rst_time = side, time
                    flow.rst_after = (flow.payload[0], flow.payload[1])
            else:
                in_zero = flow.in_zero
                if window == 0:
                    if not in_zero[side]:
                        in_zero[side] = True
                        flow.zero_windows[side] += 1
                elif in_zero[side]:
                    in_zero[side] = False
        if length:
            end = (seq + length) & _MASK
            expected = flow.next_seq[side]
            if expected is not None and (expected - end) & _MASK < _HALF:
                flow.retransmissions[side] += 1  # every byte of it was sent before
            else:
                flow.next_seq[side] = end
                flow.payload[side] += length
                if flow.fin_time[1 - side] is not None:
                    flow.data_after_fin = True
        if flags & FIN and flow.fin_time[side] is None:
            flow.fin_time[side] = time
            if flow.first_fin is None:
                flow.first_fin = side
            flow.next_seq[side] = (seq + length + 1) & _MASK
            if flow.closed and flow.rst_by is None and flow.number not in self.keep:
                flow.head = flow.tail = None  # closed cleanly: no ladder will be drawn for it

    def _new_tcp(self, time: float, src: bytes, dst: bytes, sport: int, dport: int,
                 flags: int) -> TcpFlow:
        """A new connection; its client is who sent the SYN (or, when the SYN was missed, a guess)."""
        if flags & SYN and not flags & ACK:
            client, cport, server, sport_ = src, sport, dst, dport
        elif flags & SYN or (sport < dport):  # a SYN-ACK comes from the server; else the lower port serves
            client, cport, server, sport_ = dst, dport, src, sport
        else:
            client, cport, server, sport_ = src, sport, dst, dport
        saw_syn = bool(flags & SYN and not flags & ACK)
        flow = TcpFlow(number=len(self.flows) + 1, client=client, client_port=cport, server=server,
                       server_port=sport_, first=time, saw_syn=saw_syn, established=not flags & SYN)
        self.flows.append(flow)
        self._tcp[(client, cport, server, sport_)] = (flow, True)
        self._tcp[(server, sport_, client, cport)] = (flow, False)
        return flow

    def _add_udp(self, time: float, src: bytes, dst: bytes, sport: int, dport: int, length: int) -> None:
        found = self._udp.get((src, sport, dst, dport))
        if found is None:
            if not self._room():
                return
            flow = UdpFlow(number=len(self.flows) + 1, client=src, client_port=sport, server=dst,
                           server_port=dport, first=time)
            self.flows.append(flow)
            self._udp[(src, sport, dst, dport)] = found = (flow, True)
            self._udp[(dst, dport, src, sport)] = (flow, False)
        flow, from_client = found
        side = 0 if from_client else 1
        flow.datagrams[side] += 1
        flow.payload[side] += length
        flow.last = time

    def _add_icmp(self, time: float, sender: bytes, family: int, code: int, proto: int, qsrc: bytes,
                  qdst: bytes, qsport: int, qdport: int) -> None:
        """An ICMP error quotes the datagram it answers: it belongs to that datagram's flow."""
        table: dict[tuple[bytes, int, bytes, int], tuple[TcpFlow, bool]] | dict[
            tuple[bytes, int, bytes, int], tuple[UdpFlow, bool]]
        table = self._tcp if proto == TCP else self._udp if proto == UDP else {}
        found = table.get((qsrc, qsport, qdst, qdport))
        if found is not None and found[1] and found[0].icmp is None:
            flow = found[0]
            flow.icmp = (family, code, sender, time)
            flow.last = time
            if isinstance(flow, TcpFlow):
                flow.packets += 1
            else:
                flow.datagrams[1] += 1  # the answer that came back, an ICMP error

    def release(self) -> None:
        """Forget the per-connection state once the verdicts are made (before the report is printed)."""
        self.flows = []
        self._tcp.clear()
        self._udp.clear()

    def rows_of(self, flow: TcpFlow) -> tuple[list[Row], int]:
        """The kept segments of a connection (head, then tail) and how many were left out between."""
        if flow.head is None or flow.tail is None:
            return [], flow.rows
        return [*flow.head, *flow.tail], flow.rows - len(flow.head) - len(flow.tail)
