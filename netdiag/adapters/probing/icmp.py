"""Watching ICMP errors with raw sockets while probing (root only; silently absent otherwise).

Why: a TCP RST and an ICMP port-unreachable both end ``connect()`` with ECONNREFUSED, and ICMP
admin-prohibited and host-unreachable both end it with EHOSTUNREACH. A raw ICMP socket opened *before*
the probe receives a copy of the ICMP error (the kernel hands it to raw sockets before it sets the error on
our socket), so by the time the prober sees the errno the quote is already queued and can be matched.
"""

from __future__ import annotations

import contextlib
import socket

from netdiag.core.icmp import QuotedProbe, parse_icmp4_unreachable, parse_icmp6_unreachable
from netdiag.core.probe import IcmpReport

_MAX_REMEMBERED = 10_000
_BATCH = 256  # most packets read per drain, so a flood of ICMP cannot stall the probe loop


class IcmpWatcher:
    """Raw ICMPv4/ICMPv6 sockets, drained on demand into ``(proto, address, port) -> IcmpReport``."""

    def __init__(self, sockets: list[tuple[int, socket.socket]]) -> None:
        self._sockets = sockets
        self._seen: dict[tuple[int, str, int], IcmpReport] = {}

    def drain(self) -> None:
        """Read every queued ICMP error (non-blocking) and remember those that quote a probe."""
        for family, raw in self._sockets:
            for _ in range(_BATCH):
                try:
                    packet, sender = raw.recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # the socket broke (interface gone): stop watching it, keep probing
                    break
                quoted: QuotedProbe | None
                if family == socket.AF_INET:
                    quoted = parse_icmp4_unreachable(packet)
                else:
                    quoted = parse_icmp6_unreachable(packet, str(sender[0]))
                if quoted is not None:
                    key = (quoted.proto, quoted.destination, quoted.destination_port)
                    self._seen[key] = quoted.report
        if len(self._seen) > _MAX_REMEMBERED:  # ICMP about traffic that was not ours: forget the oldest
            for key in list(self._seen)[: _MAX_REMEMBERED // 2]:
                del self._seen[key]

    @property
    def pending(self) -> bool:
        """Whether any quoted ICMP error waits to be matched (False: every errno stands alone)."""
        return bool(self._seen)

    def report_for(self, proto: int, address: str, port: int) -> IcmpReport | None:
        """The ICMP error that answered a probe of ``address:port`` (after ``drain``), if any."""
        return self._seen.pop((proto, address.split("%", 1)[0], port), None)

    def close(self) -> None:
        for _, raw in self._sockets:
            raw.close()
        self._sockets = []


def open_icmp_watcher(families: set[int]) -> IcmpWatcher | None:
    """Raw ICMP sockets for the given address families, or None without the privilege to open them."""
    opened: list[tuple[int, socket.socket]] = []
    for family in sorted(families):
        proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
        try:
            raw = socket.socket(family, socket.SOCK_RAW, proto)
            raw.setblocking(False)
        except PermissionError:
            continue  # not root: probes still work, reasons fall back to what the errno says
        except OSError:  # address family not supported (IPv6 disabled)
            continue
        if family == socket.AF_INET6:
            _filter_icmp6_unreachable(raw)
        opened.append((family, raw))
    return IcmpWatcher(opened) if opened else None


def _filter_icmp6_unreachable(raw: socket.socket) -> None:
    """Let only destination-unreachable through (RFC 3542 ICMP6_FILTER), so neighbour discovery is not
    copied to us on every probe."""
    icmp6_filter = getattr(socket, "ICMP6_FILTER", 1)
    blocked = bytearray(b"\xff" * 32)  # a bit set = type blocked
    blocked[0] &= ~(1 << 1) & 0xFF  # type 1 (destination unreachable) passes
    with contextlib.suppress(OSError):  # unfiltered still works, only busier
        raw.setsockopt(socket.IPPROTO_ICMPV6, icmp6_filter, bytes(blocked))
