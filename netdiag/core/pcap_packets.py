"""Decoding captured frames down to what a connection's story needs: addresses, ports, TCP numbers, ICMP.

A record's link type (https://www.tcpdump.org/linktypes.html) says where the IP header starts:

* 1 Ethernet (Linux ``lo`` too): 14 bytes, then 802.1Q / 802.1ad VLAN tags of 4 bytes each;
* 0 BSD loopback (NULL) and 108 OpenBSD LOOP: a 4-byte address family (host or network byte order);
  the IP version nibble that follows tells IPv4 from IPv6 whatever the family numbering;
* 101 / 12 / 14 raw IP, 228 raw IPv4, 229 raw IPv6: no link header;
* 113 Linux cooked (``tcpdump -i any``), 276 Linux cooked v2: 16 / 20 bytes. A packet socket sees each
  loopback packet twice (sent, then received); libpcap drops the sent copy, but a file written by another
  tool may hold both: the copy marked "outgoing on a loopback device" is skipped, so no segment looks
  retransmitted.

The decoded values are tuples, built once per packet (the reader's hot path), with addresses kept as
packed bytes until a person needs to read them:

* ``(TCP, src, dst, sport, dport, seq, ack, flags, window, payload_len, options)``
* ``(UDP, src, dst, sport, dport, payload_len)``
* ``(ICMP, sender, family, code, quoted_proto, quoted_src, quoted_dst, quoted_sport, quoted_dport)``
  for a destination-unreachable (ICMPv4 type 3, ICMPv6 type 1), which quotes the datagram it answers;
* ``(OTHER, src)`` for any other IP packet (it still proves that ``src`` is up).
"""

from __future__ import annotations

import functools
import ipaddress
import struct

from netdiag.core.handshake import TcpOptions

TCP = 6
UDP = 17
ICMP = 1
OTHER = 0

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

LINK_NAMES: dict[int, str] = {
    0: "BSD loopback", 1: "Ethernet", 12: "raw IP", 14: "raw IP", 101: "raw IP", 108: "OpenBSD loopback",
    113: "Linux cooked (SLL)", 228: "raw IPv4", 229: "raw IPv6", 276: "Linux cooked v2 (SLL2)",
}

_IPV6_EXTENSIONS = frozenset((0, 43, 60, 51))  # hop-by-hop, routing, destination options, AH
_ETHER_IPV4, _ETHER_IPV6 = 0x0800, 0x86DD
_ETHER_VLAN = frozenset((0x8100, 0x88A8, 0x9100))
_ARPHRD_LOOPBACK = 772
_PACKET_OUTGOING = 4

_ipv4 = struct.Struct("!BBHHHBBH4s4s").unpack_from
_tcp = struct.Struct("!HHIIBBH").unpack_from
_ports = struct.Struct("!HH").unpack_from
_u16 = struct.Struct("!H").unpack_from

Decoded = tuple[object, ...]


def ip_offset(link_type: int, data: bytes) -> int:
    """Where the IP header starts in a frame of ``link_type``; -1 when the frame carries no IP."""
    if link_type == 1:
        ether = _u16(data, 12)[0] if len(data) >= 14 else 0
        pos = 14
        while ether in _ETHER_VLAN and len(data) >= pos + 4:
            ether = _u16(data, pos + 2)[0]
            pos += 4
        return pos if ether in (_ETHER_IPV4, _ETHER_IPV6) else -1
    if link_type in (101, 228, 229, 12, 14):
        return 0
    if link_type in (0, 108):
        return 4
    if link_type == 113:
        if len(data) < 16 or _u16(data, 14)[0] not in (_ETHER_IPV4, _ETHER_IPV6):
            return -1
        if _u16(data, 0)[0] == _PACKET_OUTGOING and _u16(data, 2)[0] == _ARPHRD_LOOPBACK:
            return -1
        return 16
    if link_type == 276:
        if len(data) < 20 or _u16(data, 0)[0] not in (_ETHER_IPV4, _ETHER_IPV6):
            return -1
        if data[10] == _PACKET_OUTGOING and _u16(data, 8)[0] == _ARPHRD_LOOPBACK:
            return -1
        return 20
    return -1


def decode(link_type: int, data: bytes) -> Decoded | None:
    """The TCP / UDP / ICMP facts of one frame, or None for a frame that carries no IP (ARP, ...)."""
    pos = ip_offset(link_type, data)
    if pos < 0 or len(data) < pos + 20:
        return None
    version = data[pos] >> 4
    if version == 4:
        return _ipv4_packet(data, pos)
    if version == 6:
        return _ipv6_packet(data, pos)
    return None


def _ipv4_packet(data: bytes, pos: int) -> Decoded | None:
    vihl, _tos, total, _ident, frag, _ttl, proto, _sum, src, dst = _ipv4(data, pos)
    start = pos + (vihl & 0x0F) * 4
    end = min(pos + total, len(data)) if total else len(data)  # total 0: TSO on the sending host
    if frag & 0x1FFF:  # a later fragment: no transport header in it
        return (OTHER, src)
    return _transport(data, proto, src, dst, start, end, 4)


def _ipv6_packet(data: bytes, pos: int) -> Decoded | None:
    if len(data) < pos + 40:
        return None
    payload = _u16(data, pos + 4)[0]
    proto = data[pos + 6]
    src, dst = data[pos + 8:pos + 24], data[pos + 24:pos + 40]
    start = pos + 40
    end = min(start + payload, len(data)) if payload else len(data)
    while proto in _IPV6_EXTENSIONS or proto == 44:
        if start + 8 > end:
            return (OTHER, src)
        if proto == 44:  # fragment header: only the first fragment has the transport header
            if _u16(data, start + 2)[0] & 0xFFF8:
                return (OTHER, src)
            proto, start = data[start], start + 8
        elif proto == 51:
            proto, start = data[start], start + (data[start + 1] + 2) * 4
        else:
            proto, start = data[start], start + (data[start + 1] + 1) * 8
    return _transport(data, proto, src, dst, start, end, 6)


def _transport(data: bytes, proto: int, src: bytes, dst: bytes, start: int, end: int,
               family: int) -> Decoded:
    if proto == TCP and end - start >= 20:
        sport, dport, seq, ack, offset, flags, window = _tcp(data, start)
        header = (offset >> 4) * 4
        options = data[start + 20:start + header] if header > 20 else b""
        return (TCP, src, dst, sport, dport, seq, ack, flags, window, max(end - start - header, 0), options)
    if proto == UDP and end - start >= 8:
        sport, dport = _ports(data, start)
        return (UDP, src, dst, sport, dport, max(end - start - 8, 0))
    if (proto == 1 and family == 4) or (proto == 58 and family == 6):
        quoted = _icmp_unreachable(data, start, end, family)
        if quoted is not None:
            return (ICMP, src, family, *quoted)
    return (OTHER, src)


def _icmp_unreachable(data: bytes, start: int, end: int,
                      family: int) -> tuple[int, int, bytes, bytes, int, int] | None:
    """(code, quoted protocol, quoted src, quoted dst, quoted ports) of a destination-unreachable."""
    if end - start < 8 or data[start] != (3 if family == 4 else 1):
        return None
    code = data[start + 1]
    inner = start + 8
    if family == 4:
        if end - inner < 20 or data[inner] >> 4 != 4:
            return None
        header = (data[inner] & 0x0F) * 4
        proto = data[inner + 9]
        qsrc, qdst = data[inner + 12:inner + 16], data[inner + 16:inner + 20]
        ports = inner + header
    else:
        if end - inner < 40 or data[inner] >> 4 != 6:
            return None
        proto = data[inner + 6]
        qsrc, qdst = data[inner + 8:inner + 24], data[inner + 24:inner + 40]
        ports = inner + 40
    if end - ports < 4:
        return None
    qsport, qdport = _ports(data, ports)
    return code, proto, qsrc, qdst, qsport, qdport


@functools.lru_cache(maxsize=4096)
def address_text(packed: bytes) -> str:
    """``198.18.0.2`` / ``::1`` from the packed bytes of an IPv4 or IPv6 address."""
    return str(ipaddress.IPv4Address(packed) if len(packed) == 4 else ipaddress.IPv6Address(packed))


def flag_letters(flags: int) -> str:
    """The flag bits as scapy's letters (``SA``, ``FA``, ``R``), the spelling ``Segment.flags`` uses."""
    return "".join(letter for bit, letter in ((FIN, "F"), (SYN, "S"), (RST, "R"), (PSH, "P"), (ACK, "A"),
                                              (URG, "U"), (ECE, "E"), (CWR, "C")) if flags & bit)


def parse_options(raw: bytes) -> TcpOptions:
    """The TCP options people read in a handshake (MSS, window scale, SACK permitted, timestamps)."""
    mss = wscale = None
    sack = False
    timestamp = None
    pos = 0
    while pos < len(raw):
        kind = raw[pos]
        if kind == 0:
            break
        if kind == 1:
            pos += 1
            continue
        if pos + 1 >= len(raw):
            break
        size = raw[pos + 1]
        if size < 2 or pos + size > len(raw):
            break
        body = raw[pos + 2:pos + size]
        if kind == 2 and size == 4:
            mss = _u16(body)[0]
        elif kind == 3 and size == 3:
            wscale = body[0]
        elif kind == 4:
            sack = True
        elif kind == 8 and size == 10:
            value, echo = struct.unpack("!II", body)
            timestamp = (value, echo)
        pos += size
    return TcpOptions(mss=mss, wscale=wscale, sack_permitted=sack, timestamp=timestamp)
