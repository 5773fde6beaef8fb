"""A port of this host, answered from the kernel's socket table instead of a connection. Pure.

Why: a connection is not a harmless question. The lab's first echo server accepts one client and exits,
so a probe that connects *is* its one client; a server that prints every disconnection prints one per
probe. For an address of this host the kernel already knows the answer a connection would get: a TCP
connect is accepted when a listening socket serves the destination address and port, and refused
otherwise. ``table_outcome`` applies the kernel's matching rules to the listeners the adapter read
(``netdiag.adapters.listing.listeners``), so ``probe`` and ``explain`` can answer without sending a packet.

What the table cannot see is a firewall rule of this host: ``--connect`` asks with a real connection.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netdiag.core.probe import PortState, Reason


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket, or one bound UDP socket not connected to a peer (``proto="udp"``: it
    receives every datagram sent to its address and port, what ``ss -lu`` lists), as the kernel reports it."""

    family: int  # 4 or 6
    address: str  # the bound address: "0.0.0.0" / "::" for every address
    port: int
    v6only: bool | None = None  # IPV6_V6ONLY of an IPv6 listener (None: not known, Linux default is off)
    queued: int | None = None  # connections completed and waiting for accept()
    backlog: int | None = None  # the accept queue's length (listen()'s backlog, capped by somaxconn)
    pid: int | None = None
    process: str | None = None
    proto: str = "tcp"  # "tcp" or "udp"


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def destination(address: str) -> str:
    """Where a connect() to ``address`` goes: the unspecified address a server binds means loopback."""
    ip = _ip(address)
    if ip is not None and ip.is_unspecified:
        return "127.0.0.1" if ip.version == 4 else "::1"
    return address.split("%", 1)[0]


def serves(listener: Listener, address: str, port: int) -> bool:
    """Whether the kernel hands a connection to ``address:port`` to ``listener``.

    The rules of ``inet_lookup_listener``: the port must match; an IPv4 listener takes its own address or,
    bound to 0.0.0.0, every IPv4 address; an IPv6 listener takes its own address or, bound to ``::``,
    every IPv6 address and also every IPv4 address unless IPV6_V6ONLY is set. ``::ffff:a.b.c.d`` is the
    IPv4 address a.b.c.d.
    """
    if listener.port != port:
        return False
    target, bound = _ip(destination(address)), _ip(listener.address)
    if target is None or bound is None:
        return False
    if isinstance(bound, ipaddress.IPv6Address) and bound.ipv4_mapped is not None:
        bound = bound.ipv4_mapped
    if isinstance(target, ipaddress.IPv6Address) and target.ipv4_mapped is not None:
        target = target.ipv4_mapped
    if bound.is_unspecified:
        if bound.version == target.version:
            return True
        return bound.version == 6 and target.version == 4 and listener.v6only is not True
    return bound == target


def table_outcome(address: str, port: int, listeners: list[Listener], *,
                  udp: bool = False) -> tuple[PortState, Reason, str | None]:
    """State, reason and a detail sentence for ``address:port`` of this host, from its listeners (``udp``:
    its bound UDP sockets; a datagram to a port with none gets ICMP port-unreachable)."""
    serving = [listener for listener in listeners if serves(listener, address, port)]
    if not serving:
        where = destination(address)
        if udp:
            return (PortState.CLOSED, Reason.NO_LISTENER,
                    f"no UDP socket is bound to port {port} for {where}, so a datagram would get ICMP "
                    "port-unreachable (read from this host's socket table)")
        return (PortState.CLOSED, Reason.NO_LISTENER,
                f"nothing listens on port {port} for {where}, so a connection would be refused "
                "(read from this host's socket table)")
    return PortState.OPEN, Reason.LISTENER, describe_listener(serving[0])


def describe_listener(listener: Listener) -> str:
    """``listener on 127.0.0.1:8000 (pid 42 python3), accept queue 0 of 5``, with a warning when full."""
    bound = f"[{listener.address}]" if ":" in listener.address else listener.address
    words = [f"UDP socket bound to {bound}:{listener.port}" if listener.proto == "udp"
             else f"listener on {bound}:{listener.port}"]
    if listener.pid is not None:
        words.append(f" (pid {listener.pid}{' ' + listener.process if listener.process else ''})")
    if listener.family == 6 and listener.v6only is not None:
        words.append(", IPv6 only" if listener.v6only else ", IPv6 and IPv4")
    if listener.queued is not None and listener.backlog is not None:
        words.append(f", accept queue {listener.queued} of {listener.backlog}")
        if listener.queued > listener.backlog:
            words.append(": full, new connections wait or are dropped until the server calls accept()")
        elif listener.queued:
            words.append(": connections waiting for the server to accept() them")
    return "".join(words) + " (read from this host's socket table)"
