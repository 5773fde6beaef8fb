"""Which local address and interface the kernel would use to reach an address, and whether a neighbour
answered on the link.

The route comes from ``connect()`` on a UDP socket: the kernel picks the route and source address, and a
UDP connect sends no packet at all. The source address is then mapped to its interface with
``psutil.net_if_addrs``. The neighbour state (Linux ``ip neigh``) tells whether a host on the local link
answered ARP / neighbour discovery: then it is there, even if a port of it stays silent.
"""

from __future__ import annotations

import json
import socket
import subprocess

from netdiag.core.observations import RouteObservation

DISCARD_PORT = 9  # any port works: a UDP connect only consults the routing table
_PRESENT_STATES = {"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT"}


def route_to(address: str) -> RouteObservation:
    """The source address and interface for ``address``, or the kernel's reason why there is none."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, DISCARD_PORT))
            source = str(sock.getsockname()[0])
    except OSError as exc:
        return RouteObservation(address, error=exc.strerror or str(exc), blocked_by=discarding_route(address))
    return RouteObservation(address, source, interface_of(source))


_DISCARDING = ("blackhole", "prohibit", "unreachable", "throw")


def discarding_route(address: str, *, timeout: float = 2.0) -> str | None:
    """The most specific route of a discarding type (blackhole, prohibit, unreachable, throw) that covers
    ``address``, as ``ip route del`` takes it ("blackhole 198.18.5.0/24"); None when there is none or
    it cannot be read (not Linux, no ``ip``). Read-only: ``ip -j route show table all match ADDRESS``."""
    import ipaddress

    family = "-6" if ":" in address else "-4"
    try:
        done = subprocess.run(["ip", family, "-j", "route", "show", "table", "all", "match", address],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        routes = json.loads(done.stdout or "[]") if done.returncode == 0 else []
    except (FileNotFoundError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return None
    best: tuple[int, str] | None = None
    for route in routes if isinstance(routes, list) else []:
        kind, dst = route.get("type"), route.get("dst")
        if kind not in _DISCARDING or not isinstance(dst, str):
            continue
        try:
            network = ipaddress.ip_network("0.0.0.0/0" if dst == "default" and family == "-4" else
                                           "::/0" if dst == "default" else dst, strict=False)
        except ValueError:
            continue
        table = route.get("table")
        where = f" table {table}" if table not in (None, "main") else ""
        if best is None or network.prefixlen > best[0]:
            best = (network.prefixlen, f"{kind} {dst}{where}")
    return best[1] if best else None


def interface_of(address: str) -> str | None:
    """The interface that holds ``address`` (IPv6 zone suffixes such as ``%eth0`` ignored)."""
    import psutil

    wanted = address.split("%", 1)[0]
    for name, addrs in psutil.net_if_addrs().items():
        if any(a.address.split("%", 1)[0] == wanted for a in addrs):
            return name
    return None


def local_addresses() -> set[str]:
    """Every IPv4/IPv6 address of this machine (of this network namespace)."""
    import psutil

    return {a.address.split("%", 1)[0] for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family in (socket.AF_INET, socket.AF_INET6)}


def neighbour_answered(address: str, *, timeout: float = 2.0) -> bool | None:
    """True when ``address`` is a neighbour on the link that answered ARP/ND, False when it did not,
    None when unknown (not Linux, no ``ip``, or not a neighbour at all: a routed host has no entry)."""
    try:
        done = subprocess.run(["ip", "-j", "neigh", "show", "to", address], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        entries = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return None
    states = {state for entry in entries if entry.get("dst") == address for state in entry.get("state", [])}
    if not states:
        return None
    return bool(states & _PRESENT_STATES)
