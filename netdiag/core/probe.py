"""The vocabulary of port probing, shared by ``probe``, ``explain``, ``handshake`` and the tour.

States and reasons follow nmap's words (``open``/``syn-ack``, ``closed``/``conn-refused``,
``filtered``/``no-response`` ...) so users can compare with what they already know.
"""

from __future__ import annotations

import errno as errno_codes
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from netdiag.core.catalog import Cause


class Proto(str, Enum):
    TCP = "tcp"
    UDP = "udp"


class PortState(str, Enum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"
    OPEN_FILTERED = "open|filtered"
    UNREACHABLE = "unreachable"
    ERROR = "error"


class Reason(str, Enum):
    SYN_ACK = "syn-ack"
    CONN_REFUSED = "conn-refused"
    NO_RESPONSE = "no-response"
    ADMIN_PROHIBITED = "admin-prohibited"
    HOST_UNREACH = "host-unreach"
    NET_UNREACH = "net-unreach"
    PORT_UNREACH = "port-unreach"
    UDP_RESPONSE = "udp-response"
    RESET = "reset"
    DNS_FAILURE = "dns-failure"
    LOCAL_ERROR = "local-error"
    LISTENER = "listener"  # this host's socket table shows a listener that serves the address
    NO_LISTENER = "no-listener"  # this host's socket table shows none: a connect would be refused


class ProbeMethod(str, Enum):
    """How a port was asked: each disturbs the server less than the next one (docs/probe.md)."""

    SOCKET_TABLE = "socket-table"  # a port of this host, read from the kernel's socket table: nothing sent
    SYN = "syn"  # a half-open SYN from a raw socket: the server's accept() never returns
    CONNECT = "connect"  # a full connection, closed gracefully: a server sees (and may serve) a client


@dataclass(frozen=True)
class ProbeResult:
    """One probe of one port on one address; field names are the documented JSON keys."""

    host: str
    address: str | None
    port: int
    proto: Proto
    state: PortState
    reason: Reason
    rtt_ms: float | None
    errno: int | None = None
    icmp_from: str | None = None  # who sent the ICMP error, when one was observed (router or target)
    method: ProbeMethod = ProbeMethod.CONNECT
    detail: str | None = None  # what the socket table adds: the listener, its accept queue

    @property
    def is_open(self) -> bool:
        return self.state == PortState.OPEN


# --- Classification: what the kernel told us -> (state, reason) -------------------------------------
#
# A TCP connect() ends in one of: success, an errno set by a TCP RST or an ICMP error, or silence until
# our deadline. The errno alone cannot tell a RST from an ICMP port-unreachable (both ECONNREFUSED), nor an
# ICMP admin-prohibited from a host-unreachable (both EHOSTUNREACH); when the prober could watch ICMP
# (a raw socket, root only) it passes the ICMP type/code it saw and the reason becomes exact.

ICMP_DEST_UNREACH = 3
ICMP6_DEST_UNREACH = 1

# ICMPv4 destination-unreachable codes (RFC 792, RFC 1812) -> what they say about the port.
_ICMP4_UNREACH: dict[int, tuple[PortState, Reason]] = {
    0: (PortState.UNREACHABLE, Reason.NET_UNREACH),
    1: (PortState.UNREACHABLE, Reason.HOST_UNREACH),
    2: (PortState.FILTERED, Reason.ADMIN_PROHIBITED),  # protocol unreachable: nothing speaks TCP/UDP
    3: (PortState.FILTERED, Reason.PORT_UNREACH),
    6: (PortState.UNREACHABLE, Reason.NET_UNREACH),
    7: (PortState.UNREACHABLE, Reason.HOST_UNREACH),
    9: (PortState.FILTERED, Reason.ADMIN_PROHIBITED),
    10: (PortState.FILTERED, Reason.ADMIN_PROHIBITED),
    13: (PortState.FILTERED, Reason.ADMIN_PROHIBITED),
}
# ICMPv6 destination-unreachable codes (RFC 4443).
_ICMP6_UNREACH: dict[int, tuple[PortState, Reason]] = {
    0: (PortState.UNREACHABLE, Reason.NET_UNREACH),
    1: (PortState.FILTERED, Reason.ADMIN_PROHIBITED),
    3: (PortState.UNREACHABLE, Reason.HOST_UNREACH),
    4: (PortState.FILTERED, Reason.PORT_UNREACH),
    5: (PortState.FILTERED, Reason.ADMIN_PROHIBITED),
    6: (PortState.FILTERED, Reason.ADMIN_PROHIBITED),
}

ECONNREFUSED = errno_codes.ECONNREFUSED
ECONNRESET = errno_codes.ECONNRESET
EHOSTUNREACH = errno_codes.EHOSTUNREACH
ENETUNREACH = errno_codes.ENETUNREACH
ETIMEDOUT = errno_codes.ETIMEDOUT
EHOSTDOWN = errno_codes.EHOSTDOWN
ENETDOWN = errno_codes.ENETDOWN
EACCES = errno_codes.EACCES
EPERM = errno_codes.EPERM


class IcmpReport(NamedTuple):
    """An ICMP destination-unreachable that quoted our probe: who sent it, and its type and code."""

    family: int  # 4 or 6
    code: int
    sender: str

    @property
    def verdict(self) -> tuple[PortState, Reason] | None:
        table = _ICMP4_UNREACH if self.family == 4 else _ICMP6_UNREACH
        return table.get(self.code)


def classify_tcp_outcome(
    error: int | None, *, timed_out: bool = False, icmp: IcmpReport | None = None
) -> tuple[PortState, Reason]:
    """The nmap state and reason for one TCP connect attempt.

    ``error`` is the errno the connect ended with (0 or None: connected), ``timed_out`` means no answer
    before our deadline, ``icmp`` is the matching ICMP error when one was observed.
    """
    if timed_out:
        return PortState.FILTERED, Reason.NO_RESPONSE
    if not error:
        return PortState.OPEN, Reason.SYN_ACK
    if icmp is not None and error in (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH):
        verdict = icmp.verdict
        if verdict is not None:
            return verdict
    return _classify_errno(error)


def classify_udp_outcome(
    error: int | None, *, replied: bool = False, icmp: IcmpReport | None = None
) -> tuple[PortState, Reason]:
    """The nmap state and reason for one UDP probe.

    A reply means ``open``; ICMP port-unreachable (ECONNREFUSED on a connected UDP socket) means
    ``closed``; silence means ``open|filtered`` because UDP servers need not answer a probe they do not
    understand, so silence cannot tell a listening service from a DROP rule.
    """
    if replied:
        return PortState.OPEN, Reason.UDP_RESPONSE
    if not error:
        return PortState.OPEN_FILTERED, Reason.NO_RESPONSE
    if error == ECONNREFUSED:
        return PortState.CLOSED, Reason.PORT_UNREACH
    if icmp is not None:
        verdict = icmp.verdict
        if verdict is not None and verdict[1] != Reason.PORT_UNREACH:
            return verdict
    return _classify_errno(error)


def _classify_errno(error: int) -> tuple[PortState, Reason]:
    if error == ECONNREFUSED:
        return PortState.CLOSED, Reason.CONN_REFUSED
    if error == ECONNRESET:
        return PortState.CLOSED, Reason.RESET
    if error in (EHOSTUNREACH, EHOSTDOWN):
        return PortState.UNREACHABLE, Reason.HOST_UNREACH
    if error in (ENETUNREACH, ENETDOWN):
        return PortState.UNREACHABLE, Reason.NET_UNREACH
    if error == ETIMEDOUT:
        return PortState.FILTERED, Reason.NO_RESPONSE
    if error in (EACCES, EPERM):
        # This host refused to send the packet: an OUTPUT rule (EPERM) or a prohibit route (EACCES).
        return PortState.FILTERED, Reason.ADMIN_PROHIBITED
    return PortState.ERROR, Reason.LOCAL_ERROR


def is_self_connection(local: tuple[str, int], remote: tuple[str, int]) -> bool:
    """True when a connect reached its own socket (TCP simultaneous open on a free ephemeral port).

    Scanning loopback ports in the ephemeral range can pick the destination port as the source port;
    the socket then "connects" to itself and a naive scanner reports a false ``open``.
    """
    return local == remote


# What each (state, reason) most likely means, as a catalog cause (for ``probe --explain``). ``explain``
# goes further (it looks at listeners, routes and firewall rules); probe only reads the wire.
_CAUSE_BY_REASON: dict[Reason, Cause] = {
    Reason.SYN_ACK: Cause.OK,
    Reason.UDP_RESPONSE: Cause.OK,
    Reason.CONN_REFUSED: Cause.NOTHING_LISTENING,
    Reason.RESET: Cause.CONNECTION_RESET,
    Reason.PORT_UNREACH: Cause.FIREWALL_REJECT,
    Reason.ADMIN_PROHIBITED: Cause.FIREWALL_REJECT,
    Reason.HOST_UNREACH: Cause.HOST_UNREACHABLE,
    Reason.NET_UNREACH: Cause.NO_ROUTE,
    Reason.DNS_FAILURE: Cause.DNS_FAILURE,
    Reason.NO_RESPONSE: Cause.FIREWALL_DROP,
    Reason.LOCAL_ERROR: Cause.UNKNOWN,
    Reason.LISTENER: Cause.OK,
    Reason.NO_LISTENER: Cause.NOTHING_LISTENING,
}


# errno of a connect()/sendto() that never left this host: netfilter's OUTPUT drop or reject gives EPERM,
# a `prohibit` route EACCES, a `blackhole` route EINVAL (docs/firewall-matrix.md).
_REFUSED_TO_SEND: dict[int, Cause] = {
    EPERM: Cause.OUTBOUND_FIREWALL,
    EACCES: Cause.BLOCKED_ROUTE,
    errno_codes.EINVAL: Cause.BLOCKED_ROUTE,
}


def probe_cause(result: ProbeResult) -> Cause:
    """The catalog cause a probe result points to, from the wire alone.

    UDP is the exception to the table: port-unreachable on UDP is the normal "closed" answer, and
    silence is the normal answer of many UDP services, so neither blames a firewall.
    """
    if result.proto == Proto.UDP:
        if result.reason == Reason.PORT_UNREACH:
            return Cause.NOTHING_LISTENING
        if result.reason == Reason.NO_RESPONSE:
            return Cause.TIMEOUT
    if result.errno in _REFUSED_TO_SEND:  # this host would not send it: measured per cause in a namespace
        return _REFUSED_TO_SEND[result.errno]
    if result.reason == Reason.HOST_UNREACH and result.icmp_from is not None \
            and result.icmp_from == result.address:
        # The target itself answered "host unreachable": only a firewall rule on it says that.
        return Cause.FIREWALL_REJECT
    return _CAUSE_BY_REASON.get(result.reason, Cause.UNKNOWN)
