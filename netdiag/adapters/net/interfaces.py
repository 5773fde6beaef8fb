"""This machine's interfaces from psutil (addresses, up/down, MTU, speed) and the default route.

The default route says which interface leads to the rest of the network, the best hint of the address
classmates should use. Linux exposes it in /proc/net/route and /proc/net/ipv6_route; macOS and Windows
show it to read-only commands (``route -n get default``, ``route print -4``) that platform.py chooses and
``netdiag.core.interfaces`` parses. Where none answers, interfaces are ranked by name.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from netdiag.adapters import platform
from netdiag.core.interfaces import (
    Interface,
    InterfaceAddress,
    parse_route_get,
    parse_route_print,
    prefix_length,
)

_FAMILIES = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}


def list_interfaces() -> list[Interface]:
    """Every interface psutil knows, with its addresses; sorted loopback first, then by name."""
    import psutil

    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    default_routes = default_route_interfaces(addresses)
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


ROUTE_TIMEOUT = 5.0
"""Seconds the route command may take (it answers from the kernel's table at once)."""


def default_route_interfaces(addresses: Mapping[str, Sequence[Any]] | None = None) -> set[str]:
    """Names of the interfaces that carry a default route: /proc on Linux (IPv4 and IPv6), the command
    platform.py names elsewhere (IPv4); empty when none answers. ``addresses``: psutil.net_if_addrs()."""
    command = platform.default_route_command()
    if command is not None:
        return _routed_by_command(*command, addresses)
    return _routed_in_proc()


def _routed_by_command(argv: tuple[str, ...], output_format: str,
                       addresses: Mapping[str, Sequence[Any]] | None) -> set[str]:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=ROUTE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    text = done.stdout.decode("ascii", errors="replace")  # the columns wanted are ASCII in any code page
    if output_format == "route-get":
        name = parse_route_get(text)
        return {name} if name else set()
    if addresses is None:
        import psutil

        addresses = psutil.net_if_addrs()
    wanted = parse_route_print(text)[:1]  # the preferred route's interface (lowest metric)
    return {name for name, addrs in addresses.items() for a in addrs if getattr(a, "address", None) in wanted}


def _routed_in_proc() -> set[str]:
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
