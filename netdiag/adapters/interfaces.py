"""This machine's interfaces from psutil (addresses, up/down, MTU, speed) and the default route from /proc.

The default route says which interface leads to the rest of the network, the best hint of the address
classmates should use. Linux exposes it in /proc/net/route and /proc/net/ipv6_route; elsewhere we do
without it and rank interfaces by name (``netdiag.core.interfaces``).
"""

from __future__ import annotations

import socket
from pathlib import Path

from netdiag.core.interfaces import Interface, InterfaceAddress, prefix_length

_FAMILIES = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}


def list_interfaces() -> list[Interface]:
    """Every interface psutil knows, with its addresses; sorted loopback first, then by name."""
    import psutil

    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    default_routes = default_route_interfaces()
    link_family = getattr(psutil, "AF_LINK", None)
    interfaces = []
    for name in sorted(set(addresses) | set(stats)):
        stat = stats.get(name)
        found = addresses.get(name, [])
        ips = tuple(
            InterfaceAddress(_FAMILIES[a.family], a.address.split("%", 1)[0], a.netmask,
                             prefix_length(a.netmask))
            for a in found if a.family in _FAMILIES
        )
        mac = next((a.address for a in found if a.family == link_family), None)
        flags = getattr(stat, "flags", "") or ""
        loopback = "loopback" in flags.split(",") or name in ("lo", "lo0")
        interfaces.append(Interface(
            name=name, up=bool(stat and stat.isup), mtu=stat.mtu if stat and stat.mtu else None,
            speed_mbps=stat.speed if stat and stat.speed > 0 else None, loopback=loopback,
            default_route=name in default_routes, mac=mac if mac and mac != "00:00:00:00:00:00" else None,
            addresses=ips,
        ))
    return sorted(interfaces, key=lambda i: (not i.loopback, i.name))


def default_route_interfaces() -> set[str]:
    """Names of the interfaces that carry an IPv4 or IPv6 default route (Linux; empty elsewhere)."""
    names: set[str] = set()
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 7 and fields[1] == "00000000" and fields[7] == "00000000":
                names.add(fields[0])
    except OSError:
        pass
    try:
        for line in Path("/proc/net/ipv6_route").read_text().splitlines():
            fields = line.split()
            if len(fields) == 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
                names.add(fields[9])
    except OSError:
        pass
    return names
