"""Reading ICMP destination-unreachable messages: which probe they answer, and what they say.

Pure byte parsing (RFC 792 / RFC 4443): an ICMP error quotes the IP header and the first 8 bytes of the
datagram that caused it, which hold the source and destination ports. That quote lets the prober tell
"refused by a TCP RST" from "refused by an ICMP port-unreachable", which the errno alone cannot.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from netdiag.core.probe import ICMP6_DEST_UNREACH, ICMP_DEST_UNREACH, IcmpReport

IPPROTO_TCP = 6
IPPROTO_UDP = 17


class QuotedProbe(NamedTuple):
    """The probe an ICMP error refers to (protocol, our source port, destination) and the report."""

    proto: int
    source_port: int
    destination: str
    destination_port: int
    report: IcmpReport


def parse_icmp4_unreachable(packet: bytes) -> QuotedProbe | None:
    """Parse what a raw ``IPPROTO_ICMP`` socket returns (IPv4 header + ICMP); None if not ours to read."""
    if len(packet) < 20:
        return None
    header_len = (packet[0] & 0x0F) * 4
    icmp = packet[header_len:]
    if len(icmp) < 8 + 20 + 4 or icmp[0] != ICMP_DEST_UNREACH:
        return None
    sender = str(ipaddress.IPv4Address(packet[12:16]))
    quoted = icmp[8:]
    quoted_len = (quoted[0] & 0x0F) * 4
    ports = quoted[quoted_len : quoted_len + 4]
    if len(ports) < 4:
        return None
    return QuotedProbe(
        proto=quoted[9],
        source_port=int.from_bytes(ports[0:2], "big"),
        destination=str(ipaddress.IPv4Address(quoted[16:20])),
        destination_port=int.from_bytes(ports[2:4], "big"),
        report=IcmpReport(family=4, code=icmp[1], sender=sender),
    )


def parse_icmp6_unreachable(message: bytes, sender: str) -> QuotedProbe | None:
    """Parse what a raw ``IPPROTO_ICMPV6`` socket returns (the ICMPv6 message only, no IPv6 header)."""
    if len(message) < 8 + 40 + 4 or message[0] != ICMP6_DEST_UNREACH:
        return None
    quoted = message[8:]
    ports = quoted[40:44]
    return QuotedProbe(
        proto=quoted[6],  # next header; extension headers are not followed (probes never send them)
        source_port=int.from_bytes(ports[0:2], "big"),
        destination=str(ipaddress.IPv6Address(quoted[24:40])),
        destination_port=int.from_bytes(ports[2:4], "big"),
        report=IcmpReport(family=6, code=message[1], sender=sender.split("%", 1)[0]),
    )
