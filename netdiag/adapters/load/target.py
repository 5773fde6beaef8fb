"""Preparing a load's target: resolve it, refuse a host that is not this one, and find the address that
answers before any client starts (the preflight).

A target that fails here fails once, with the catalog's explanation and the target as fields, instead of
N clients failing N times; a name that does not resolve is ``lookup``'s ``ResolveFailure``.
"""

from __future__ import annotations

import asyncio
import socket

from netdiag.adapters.net.resolve import lookup
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.error_causes import classify_exception
from netdiag.core.failures import NetworkFailure
from netdiag.core.loadplan import LoadPlan, is_local_address, remote_refusal
from netdiag.core.loadstats import udp_load_explanation
from netdiag.core.targets import format_endpoint

from .clients import Connection, bounded
from .udp import udp_round_trip_check


def resolve_target(plan: LoadPlan, *, allow_remote: bool) -> list[tuple[int, str]]:
    """(family, address) pairs for the target, refusing non-local ones before any packet is sent."""
    infos = lookup(plan.host, plan.port, kind=socket.SOCK_DGRAM if plan.udp else socket.SOCK_STREAM)
    addresses: list[tuple[int, str]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        pair = (int(family), str(sockaddr[0]))
        if pair not in addresses:
            addresses.append(pair)
    if not allow_remote:
        local = _local_addresses(addresses)
        for _family, address in addresses:
            if not is_local_address(address, local):
                raise remote_refusal(plan.host, address)
    return addresses


def _local_addresses(addresses: list[tuple[int, str]]) -> list[str]:
    """This host's interface addresses, asked of psutil only when a target is not plainly loopback."""
    if all(is_local_address(address, ()) for _family, address in addresses):
        return []
    import psutil  # imported here: only a non-loopback target needs the interface list

    return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family in (socket.AF_INET, socket.AF_INET6)]


async def preflight(plan: LoadPlan, addresses: list[tuple[int, str]]
                    ) -> tuple[int, str, Connection | None]:
    """The first address that answers; if none does, fail once with the explanation, not N times.

    TCP asks without connecting where it can (this host's socket table, else a half-open SYN): a
    connection of its own would be the only one a one-client server ever accepts. Where it must
    connect (another host, no raw socket), that connection becomes the first client's."""
    if not plan.udp:
        found = _tcp_preflight(plan, addresses)
        if found is not None:
            return found[0], found[1], None
        return await _connect_preflight(plan, addresses)
    failures: list[str] = []
    last: NetworkFailure | None = None
    for family, address in addresses:
        where = format_endpoint(address, plan.port)
        receiver = _udp_receiver_here(address, plan.port)
        if receiver == "":  # this host, and no socket bound there: nothing to send a datagram to
            failures.append(f"no UDP socket is bound to {where} (read from this host's socket table)")
            last = NetworkFailure(f"Cannot load {plan.host}:{plan.port} over UDP: {'; '.join(failures)}.",
                                  explanation=udp_load_explanation(Cause.NOTHING_LISTENING, plan.port),
                                  host=plan.host, port=plan.port)
            continue
        try:
            await udp_round_trip_check(plan, family, address)
            return family, address, None
        except (OSError, asyncio.TimeoutError) as exc:
            cause = classify_exception(exc, "connect")
            if cause == Cause.NOTHING_LISTENING:
                failures.append(f"ICMP port unreachable from {where}: no UDP socket is bound there")
            elif cause == Cause.TIMEOUT and receiver:
                failures.append(f"no answer within {plan.timeout:g} s from {where}: the server received "
                                f"the datagram and sent nothing back ({receiver})")
                cause = Cause.PROTOCOL_MISMATCH
            elif cause == Cause.TIMEOUT:
                failures.append(f"no answer within {plan.timeout:g} s from {where}")
            else:
                failures.append(f"{explanation_for(cause).title.lower()} on {where}")
            last = NetworkFailure(f"Cannot load {plan.host}:{plan.port} over UDP: {'; '.join(failures)}.",
                                  explanation=udp_load_explanation(cause, plan.port), errno=_errno(exc),
                                  host=plan.host, port=plan.port)
    assert last is not None, "getaddrinfo returned no address"
    raise last


def _udp_receiver_here(address: str, port: int) -> str | None:
    """This host's socket bound to ``address:port`` (described), "" when this host has none, None when
    ``address`` is another host's (only a datagram can tell)."""
    from netdiag.adapters.listing.listeners import is_this_host, udp_receiver

    if not is_this_host(address):
        return None
    return udp_receiver(address, port) or ""


async def _connect_preflight(plan: LoadPlan, addresses: list[tuple[int, str]]
                             ) -> tuple[int, str, Connection | None]:
    failures: list[str] = []
    last: NetworkFailure | None = None
    for family, address in addresses:
        try:
            opened = await bounded(asyncio.open_connection(address, plan.port, family=family), plan.timeout)
            return family, address, opened
        except (OSError, asyncio.TimeoutError) as exc:
            cause = classify_exception(exc, "connect")
            where = format_endpoint(address, plan.port)
            failures.append(f"{explanation_for(cause).title.lower()} on {where}")
            last = NetworkFailure(f"Cannot load {plan.host}:{plan.port}: {'; '.join(failures)}.",
                                  explanation=explanation_for(cause), errno=_errno(exc), host=plan.host,
                                  port=plan.port)
    assert last is not None, "getaddrinfo returned no address"
    raise last


def _tcp_preflight(plan: LoadPlan, addresses: list[tuple[int, str]]) -> tuple[int, str] | None:
    """Read from the socket table (this host) or asked with SYN probes; None when only a connection
    could tell (another host, no raw socket)."""
    from netdiag.adapters.listing.listeners import is_this_host, tcp_listeners
    from netdiag.adapters.probing.half_open import scan_syn
    from netdiag.adapters.probing.scan import ProbeJob, _results
    from netdiag.adapters.probing.socket_table import details, read_table
    from netdiag.core.probe import PortState, ProbeMethod, Proto, probe_cause

    jobs = [ProbeJob(plan.host, address, plan.port) for _family, address in addresses]
    if all(is_this_host(job.address) for job in jobs):
        listeners = tcp_listeners({plan.port})
        results = _results(jobs, Proto.TCP, read_table(jobs, listeners), ProbeMethod.SOCKET_TABLE)
        for result, detail in zip(results, details(jobs, listeners), strict=True):
            result.__dict__["detail"] = detail
    else:
        outcomes = scan_syn(jobs, timeout=plan.timeout, concurrency=len(jobs))
        if outcomes is None:
            return None
        results = _results(jobs, Proto.TCP, outcomes, ProbeMethod.SYN)
    for (family, address), result in zip(addresses, results, strict=True):
        if result.state == PortState.OPEN:
            return family, address
    failures = []
    for result in results:
        words = explanation_for(probe_cause(result)).title.lower()
        if result.detail is not None:
            words += f" ({result.detail})"
        failures.append(f"{words} on {format_endpoint(result.address or plan.host, plan.port)}")
    raise NetworkFailure(f"Cannot load {plan.host}:{plan.port}: {'; '.join(failures)}.",
                         explanation=explanation_for(probe_cause(results[-1])), errno=results[-1].errno,
                         host=plan.host, port=plan.port)


def _errno(exc: BaseException) -> int | None:
    return exc.errno if isinstance(exc, OSError) else None
