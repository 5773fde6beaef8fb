"""The vocabulary of port probing, shared by ``probe``, ``explain``, ``handshake`` and the tour.

States and reasons follow nmap's words (``open``/``syn-ack``, ``closed``/``conn-refused``,
``filtered``/``no-response`` ...) so users can compare with what they already know.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
