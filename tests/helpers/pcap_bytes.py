"""Building small captures byte by byte, for the pure reader tests (link types no tool here writes).

Frames are built from the RFC layouts (IPv4/IPv6, TCP, UDP, ICMP), then wrapped in a link header and a
pcap or pcapng container, in either byte order. Checksums are left at zero: no reader checks them.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def _packed(address: str) -> bytes:
    return ipaddress.ip_address(address).packed


def tcp(sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0, payload: bytes = b"",
        window: int = 1000, options: bytes = b"") -> bytes:
    options += b"\x00" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, window, 0, 0)
    return header + options + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ipv4(src: str, dst: str, proto: int, body: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, proto, 0, _packed(src),
                       _packed(dst)) + body


def ipv6(src: str, dst: str, proto: int, body: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), proto, 64, _packed(src), _packed(dst)) + body


def icmp4_unreachable(code: int, quoted: bytes) -> bytes:
    return struct.pack("!BBHI", 3, code, 0, 0) + quoted[:28]


def icmp6_unreachable(code: int, quoted: bytes) -> bytes:
    return struct.pack("!BBHI", 1, code, 0, 0) + quoted[:48]


def ethernet(ip: bytes) -> bytes:
    ether = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", ether) + ip


def null_loopback(ip: bytes, order: str = "<") -> bytes:
    family = 30 if ip[0] >> 4 == 6 else 2  # macOS numbers AF_INET6 30
    return struct.pack(order + "I", family) + ip


def sll(ip: bytes, packet_type: int = 0, hatype: int = 1) -> bytes:
    ether = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return struct.pack("!HHH8sH", packet_type, hatype, 6, b"\x02" * 6, ether) + ip


def sll2(ip: bytes, packet_type: int = 0, hatype: int = 1) -> bytes:
    ether = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return struct.pack("!HHIHBB8s", ether, 0, 1, hatype, packet_type, 6, b"\x02" * 6) + ip


def pcap(link_type: int, frames: Sequence[tuple[float, bytes]], *, order: str = "<",
         nanoseconds: bool = False) -> bytes:
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, link_type)
    scale = 1_000_000_000 if nanoseconds else 1_000_000
    for time, frame in frames:
        seconds = int(time)
        fraction = round((time - seconds) * scale)
        out += struct.pack(order + "IIII", seconds, fraction, len(frame), len(frame)) + frame
    return out


def _block(order: str, block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def pcapng_section(order: str = "<") -> bytes:
    return _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def pcapng_interface(link_type: int, *, order: str = "<", tsresol: int | None = None,
                     tsoffset: int | None = None) -> bytes:
    options = b""
    if tsresol is not None:
        options += struct.pack(order + "HH", 9, 1) + bytes([tsresol]) + b"\x00" * 3
    if tsoffset is not None:
        options += struct.pack(order + "HHq", 14, 8, tsoffset)
    if options:
        options += struct.pack(order + "HH", 0, 0)
    return _block(order, 1, struct.pack(order + "HHI", link_type, 0, 262144) + options)


def pcapng_packet(interface: int, ticks: int, frame: bytes, *, order: str = "<") -> bytes:
    return _block(order, 6, struct.pack(order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF,
                                        len(frame), len(frame)) + frame)


def pcapng_simple(frame: bytes, *, order: str = "<") -> bytes:
    return _block(order, 3, struct.pack(order + "I", len(frame)) + frame)


def pcapng_other(order: str = "<") -> bytes:
    """A block the reader must skip (a name resolution block with no records)."""
    return _block(order, 4, struct.pack(order + "HH", 0, 0))
