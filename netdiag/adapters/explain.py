"""Gather the facts ``netdiag explain HOST:PORT`` reasons about: resolution, routes, listeners, one attempt
per address, firewall rules, the neighbour table. Only observation: nothing is changed. A TCP or UDP port
of this host is read from its socket table (no packet); another host gets a half-open SYN when raw sockets
are allowed, else one connection closed gracefully (UDP connects for the route send nothing).

Every gathering step catches the failures it expects and records them as facts (a name that does not
resolve, a listing that needs root, a firewall that cannot be read): the diagnosis engine decides.
"""

from __future__ import annotations

from collections.abc import Callable

from netdiag.adapters.net.firewall import read_firewall
from netdiag.adapters.net.resolve import resolve_host
from netdiag.adapters.net.route import local_addresses, neighbour_answered, route_to
from netdiag.adapters.platform import errno_platform
from netdiag.adapters.probing.scan import (
    UDP_PAYLOAD,
    ProbeJob,
    scan_tcp_without_connecting,
    scan_udp_without_sending,
)
from netdiag.core.failures import ResolveFailure
from netdiag.core.observations import Observations, effective_destination, is_loopback
from netdiag.core.probe import PortState, ProbeMethod, ProbeResult, Proto, Reason
from netdiag.core.socket_table import Listener
from netdiag.core.sockets import SocketRow


def gather_observations(
    host: str, port: int, *, proto: Proto = Proto.TCP, timeout: float = 2.0, connect: bool = False,
    payload: bytes = UDP_PAYLOAD, attempts: tuple[ProbeResult, ...] | None = None,
) -> Observations:
    """Every fact about ``host:port`` that can be read from this machine without changing anything.

    ``attempts``: connection attempts already made (``netdiag connect``'s own), used instead of new ones.
    """
    base = Observations(host=host, port=port, proto=proto, platform=errno_platform(),
                        timeout=timeout)
    try:
        addresses = tuple(resolve_host(host))
    except ResolveFailure as failure:  # the sentence around the words brings its own full stop
        return _replace(base, resolve_error=failure.reason.rstrip("."))
    routes = tuple(route_to(address) for address in addresses)
    mine = local_addresses()

    def this_host(address: str) -> bool:
        return is_loopback(effective_destination(address)) or address.split("%", 1)[0] in mine

    local_target = any(map(this_host, addresses))
    listeners, note = _listeners() if local_target else (None, None)
    firewall = read_firewall(port, proto.value)
    if attempts is None:
        attempts = _attempts(host, addresses, port, proto, timeout, connect, this_host, payload)
        if not connect and firewall.blocking_rules and any(
                a.method == ProbeMethod.SOCKET_TABLE and a.state == PortState.OPEN for a in attempts):
            # The socket table cannot see this host's own firewall, which the rules say matters here: ask
            # for real (a SYN probe or the datagram, which reading the rules needed anyway).
            attempts = _attempts(host, addresses, port, proto, timeout, False, lambda _address: False,
                                 payload)
    neighbour = None
    if not local_target and any(a.reason == Reason.NO_RESPONSE for a in attempts):
        answers = [neighbour_answered(a) for a in addresses if ":" not in a or not a.startswith("fe80")]
        neighbour = True if any(answers) else (False if False in answers else None)
    return _replace(base, addresses=addresses, routes=routes, local_target=local_target,
                    listeners=listeners, listing_note=note, attempts=attempts,
                    firewall=firewall, neighbour_reachable=neighbour,
                    table=_table(port) if local_target and proto == Proto.TCP else None)


def _replace(obs: Observations, **changes: object) -> Observations:
    from dataclasses import replace

    return replace(obs, **changes)  # type: ignore[arg-type]


def _listeners() -> tuple[tuple[SocketRow, ...] | None, str | None]:
    from netdiag.adapters.listing import list_sockets

    listing = list_sockets(("tcp", "udp"))
    return tuple(listing.rows), (None if listing.complete else listing.note)


def _table(port: int) -> tuple[Listener, ...] | None:
    """The kernel's own view of the port's TCP listeners: accept queues and IPV6_V6ONLY."""
    from netdiag.adapters.listing.listeners import tcp_listeners

    try:
        return tuple(tcp_listeners({port}))
    except OSError:
        return None


def _attempts(host: str, addresses: tuple[str, ...], port: int, proto: Proto, timeout: float, connect: bool,
              this_host: Callable[[str], bool], payload: bytes = UDP_PAYLOAD) -> tuple[ProbeResult, ...]:
    """One attempt per address, all at once (a silent address costs one timeout, not one each), each
    asked in the way that disturbs the server least (``scan_tcp_without_connecting``)."""
    jobs = [ProbeJob(host, address, port) for address in addresses]
    try:
        results = scan_udp_without_sending(jobs, timeout=timeout, this_host=this_host, connect=connect,
                                           payload=payload) if proto == Proto.UDP else \
            scan_tcp_without_connecting(jobs, timeout=timeout, this_host=this_host, connect=connect)
    except OSError as exc:  # a local failure before any packet (no sockets left, ...) is a fact too
        return tuple(ProbeResult(host, a, port, proto, PortState.ERROR, Reason.LOCAL_ERROR, None, exc.errno)
                     for a in addresses)
    return tuple(results)
