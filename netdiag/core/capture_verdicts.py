"""What happened to each connection of a capture file, in ``netdiag explain``'s words and cause codes.

``verdicts(table)`` turns the per-connection state of ``netdiag.core.capture_flows`` into one
``ConnectionVerdict`` each: an outcome (closed vocabulary), the cause code of the catalog, and a
one-line reading for people. The rules, first match wins:

1. an ICMP destination-unreachable quoting the SYN (no SYN-ACK came): ``unreachable``; a port-unreachable
   to TCP, an administratively-prohibited code, or a host/net-unreachable sent by the server's own address
   is a firewall's REJECT (``firewall-reject``); a host/net-unreachable from elsewhere is
   ``host-unreachable`` / ``no-route``;
2. a RST answering the SYN: ``refused`` (``nothing-listening``; a ``REJECT --reject-with tcp-reset`` is
   identical on the wire);
3. SYNs and nothing else: ``no-answer``; ``firewall-drop`` when the capture shows the server's address
   sending anything else (the host is up), ``timeout`` otherwise (a drop and an absent host look alike);
4. a RST after the handshake, before both FINs: ``reset`` (``connection-reset``), by whom, after how many
   bytes;
5. both FINs: ``completed``, who closed first; one FIN: ``half-closed``; neither: ``open`` (still open
   when the capture ended); a handshake that never finished: ``incomplete``.

Retransmitted data and zero-window stalls never change the outcome; they are counted and read out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from netdiag.core.capture_flows import FlowTable, Icmp, Row, TcpFlow, UdpFlow
from netdiag.core.catalog import Cause
from netdiag.core.handshake import Address, format_duration
from netdiag.core.pcap_packets import address_text


class FlowOutcome(str, Enum):
    """How a connection (or UDP flow) went (JSON ``outcome``)."""

    COMPLETED = "completed"
    REFUSED = "refused"
    NO_ANSWER = "no-answer"
    UNREACHABLE = "unreachable"
    RESET = "reset"
    HALF_CLOSED = "half-closed"
    OPEN = "open"
    INCOMPLETE = "incomplete"
    ANSWERED = "answered"  # UDP: datagrams both ways
    UNANSWERED = "unanswered"  # UDP: one way only, no ICMP error


@dataclass(frozen=True, slots=True)
class ConnectionVerdict:
    """One connection's story; ``rows`` are the segments kept for its ladder (TCP only)."""

    number: int
    proto: str
    client: Address
    server: Address
    outcome: FlowOutcome
    cause: Cause
    reading: str
    start: float
    end: float
    packets: int
    bytes_to_server: int
    bytes_to_client: int
    syns: int = 0
    retransmissions: tuple[int, int] = (0, 0)
    zero_windows: tuple[int, int] = (0, 0)
    closed_by: str | None = None
    reset_by: str | None = None
    icmp: str | None = None
    icmp_from: str | None = None
    icmp_time: float | None = None
    seen_from_start: bool = True
    rows: tuple[Row, ...] = ()
    rows_left_out: int = 0

    @property
    def ok(self) -> bool:
        return self.cause is Cause.OK


_SIDES = ("client", "server")

# ICMP destination-unreachable codes (RFC 792, RFC 1812; RFC 4443 for v6): name, and whether the code
# alone says "a firewall" (True) or depends on who sent it (None: host/net unreachable).
_ICMP4: dict[int, tuple[str, bool | None]] = {
    0: ("net unreachable", None), 1: ("host unreachable", None), 2: ("protocol unreachable", True),
    3: ("port unreachable", True), 6: ("net unknown", None), 7: ("host unknown", None),
    9: ("net administratively prohibited", True), 10: ("host administratively prohibited", True),
    13: ("communication administratively prohibited", True),
}
_ICMP6: dict[int, tuple[str, bool | None]] = {
    0: ("no route to destination", None), 1: ("communication administratively prohibited", True),
    3: ("address unreachable", None), 4: ("port unreachable", True),
    5: ("source address failed policy", True),
    6: ("reject route to destination", True),
}


def icmp_name(icmp: Icmp) -> str:
    family, code, _sender, _time = icmp
    table = _ICMP4 if family == 4 else _ICMP6
    name = table.get(code, ("unreachable", None))[0]
    kind = f"type 3 code {code}" if family == 4 else f"ICMPv6 type 1 code {code}"
    return f"{name} ({kind})"


def _icmp_cause(icmp: Icmp, server: bytes, proto: str) -> Cause:
    family, code, sender, _time = icmp
    table = _ICMP4 if family == 4 else _ICMP6
    firewall = table.get(code, ("", False))[1]
    is_port = (family == 4 and code == 3) or (family == 6 and code == 4)
    if is_port and proto == "udp":
        return Cause.NOTHING_LISTENING  # a host answers a closed UDP port this way
    if firewall or sender == server:
        return Cause.FIREWALL_REJECT
    if firewall is None:
        net = (family == 4 and code in (0, 6)) or (family == 6 and code == 0)
        return Cause.NO_ROUTE if net else Cause.HOST_UNREACHABLE
    return Cause.UNKNOWN


def verdicts(table: FlowTable) -> list[ConnectionVerdict]:
    """Every connection and flow of the capture, in the order of their first packet."""
    return [tcp_verdict(f, table) if isinstance(f, TcpFlow) else udp_verdict(f) for f in table.flows]


def _span(seconds: float) -> str:
    return format_duration(max(seconds, 0.0))


def tcp_verdict(flow: TcpFlow, table: FlowTable) -> ConnectionVerdict:
    outcome, cause, text = _tcp_story(flow, table)
    extras = []
    retrans = flow.retransmissions
    if retrans[0] or retrans[1]:
        extras.append(f"{retrans[0] + retrans[1]} data retransmission(s) (client {retrans[0]}, server "
                      f"{retrans[1]})")
    zero = flow.zero_windows
    if zero[0] or zero[1]:
        who = " and ".join(f"the {_SIDES[i]} {zero[i]}x" for i in (0, 1) if zero[i])
        extras.append(f"zero-window stalls: {who} (a receiver that stopped reading)")
    if not flow.saw_syn:
        extras.append("already open when the capture began (roles guessed from the ports)")
    reading = "; ".join([text, *extras])
    rows, left_out = table.rows_of(flow)
    icmp = flow.icmp if outcome is FlowOutcome.UNREACHABLE else None
    return ConnectionVerdict(
        number=flow.number, proto="tcp", client=(address_text(flow.client), flow.client_port),
        server=(address_text(flow.server), flow.server_port), outcome=outcome, cause=cause,
        reading=reading, start=flow.first, end=flow.last, packets=flow.packets,
        bytes_to_server=flow.payload[0], bytes_to_client=flow.payload[1], syns=len(flow.syn_times),
        retransmissions=(retrans[0], retrans[1]), zero_windows=(zero[0], zero[1]),
        closed_by=_SIDES[flow.first_fin] if flow.first_fin is not None else None,
        reset_by=_SIDES[flow.rst_by] if flow.rst_by is not None else None,
        icmp=icmp_name(icmp) if icmp else None, icmp_from=address_text(icmp[2]) if icmp else None,
        icmp_time=icmp[3] if icmp else None, seen_from_start=flow.saw_syn, rows=tuple(rows),
        rows_left_out=left_out,
    )


def _tcp_story(flow: TcpFlow, table: FlowTable) -> tuple[FlowOutcome, Cause, str]:
    syns = len(flow.syn_times)
    answered = flow.syn_ack_time is not None
    port = flow.server_port
    if flow.icmp is not None and not answered:
        cause = _icmp_cause(flow.icmp, flow.server, "tcp")
        sender = address_text(flow.icmp[2])
        after = _span(flow.icmp[3] - flow.first)
        why = {Cause.FIREWALL_REJECT: "a firewall rejects the port (REJECT rule)",
               Cause.HOST_UNREACHABLE: "the host cannot be reached",
               Cause.NO_ROUTE: "no route to the network"}.get(cause, "the port is unreachable")
        return (FlowOutcome.UNREACHABLE, cause,
                f"the SYN was answered with ICMP {icmp_name(flow.icmp)} from {sender} after {after}: {why}")
    if flow.rst_by == 1 and not answered and flow.saw_syn:
        after = _span((flow.rst_time or flow.first) - flow.syn_times[-1]) if syns else "?"
        return (FlowOutcome.REFUSED, Cause.NOTHING_LISTENING,
                f"refused: the SYN was answered with RST after {after}, so nothing listens on port {port} "
                "(or a firewall rejects with tcp-reset)")
    if flow.saw_syn and not answered and flow.rst_by is None and flow.packets == syns:
        span = _span(flow.last - flow.first)
        gaps = ", ".join(_span(b - a) for a, b in zip(flow.syn_times, flow.syn_times[1:], strict=False))
        tried = f"SYN sent {syns} time{'s' if syns != 1 else ''}" + (f" (gaps {gaps})" if gaps else "")
        if flow.server in table.hosts:
            return (FlowOutcome.NO_ANSWER, Cause.FIREWALL_DROP,
                    f"no answer: {tried} over {span}; {address_text(flow.server)} sent other packets in "
                    "this capture, so it is up: a firewall drops the SYNs")
        return (FlowOutcome.NO_ANSWER, Cause.TIMEOUT,
                f"no answer: {tried} over {span}; nothing at all came from {address_text(flow.server)} "
                "in this capture: a firewall drop or an absent host (both look like this)")
    if flow.rst_by is not None and not flow.closed:
        by = _SIDES[flow.rst_by]
        sent, received = flow.rst_after
        return (FlowOutcome.RESET, Cause.CONNECTION_RESET,
                f"reset by the {by} (RST) after {sent} bytes to the server and {received} to the client, "
                f"{_span((flow.rst_time or flow.first) - flow.first)} into the connection")
    if flow.closed:
        first = _SIDES[flow.first_fin or 0]
        text = (f"completed: {flow.payload[0]} bytes to the server, {flow.payload[1]} to the client; the "
                f"{first} closed first (FIN)")
        if flow.data_after_fin:
            text += ", and the other side still sent data after it (half-close)"
        return FlowOutcome.COMPLETED, Cause.OK, text
    if flow.first_fin is not None:
        first, other = _SIDES[flow.first_fin], _SIDES[1 - flow.first_fin]
        return (FlowOutcome.HALF_CLOSED, Cause.OK,
                f"half-closed: the {first} closed its side (FIN); the {other} had not closed when the "
                f"capture ended ({flow.payload[0]} bytes to the server, {flow.payload[1]} to the client)")
    if flow.established:
        return (FlowOutcome.OPEN, Cause.OK,
                f"still open when the capture ended ({flow.payload[0]} bytes to the server, "
                f"{flow.payload[1]} to the client)")
    return (FlowOutcome.INCOMPLETE, Cause.UNKNOWN,
            "the handshake did not complete in the capture (the SYN-ACK was not acknowledged)"
            if answered else "the handshake did not complete in the capture")


def udp_verdict(flow: UdpFlow) -> ConnectionVerdict:
    sent, back = flow.datagrams
    if flow.icmp is not None:
        cause = _icmp_cause(flow.icmp, flow.server, "udp")
        outcome = FlowOutcome.UNREACHABLE
        why = ("nothing listens on that UDP port" if cause is Cause.NOTHING_LISTENING
               else "a firewall rejects it" if cause is Cause.FIREWALL_REJECT else "it cannot be reached")
        text = (f"{sent} datagram(s) sent, answered with ICMP {icmp_name(flow.icmp)} from "
                f"{address_text(flow.icmp[2])}: {why}")
    elif back:
        outcome, cause = FlowOutcome.ANSWERED, Cause.OK
        text = f"{sent} datagram(s) sent, {back} came back"
    else:
        outcome, cause = FlowOutcome.UNANSWERED, Cause.OK
        text = (f"{sent} datagram(s) one way, no answer and no ICMP error (UDP needs no answer; a silent "
                "server, a drop and an absent host look alike)")
    icmp = flow.icmp
    return ConnectionVerdict(
        number=flow.number, proto="udp", client=(address_text(flow.client), flow.client_port),
        server=(address_text(flow.server), flow.server_port), outcome=outcome, cause=cause, reading=text,
        start=flow.first, end=flow.last, packets=sent + back, bytes_to_server=flow.payload[0],
        icmp_time=icmp[3] if icmp else None,
        bytes_to_client=flow.payload[1], icmp=icmp_name(icmp) if icmp else None,
        icmp_from=address_text(icmp[2]) if icmp else None,
    )
