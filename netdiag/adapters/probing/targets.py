"""From what the user typed to probe results: resolve every target, then probe every address and port.

Every address a name resolves to is probed (IPv6 and IPv4), because "refused on ::1, open on 127.0.0.1" is
itself the diagnosis of a server bound to one family. A name that does not resolve becomes ``error`` /
``dns-failure`` rows, so one bad name does not hide the answers for the other targets.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import NamedTuple

from netdiag.adapters import platform
from netdiag.adapters.net.resolve import resolve_host
from netdiag.adapters.probing.scan import (
    UDP_PAYLOAD,
    ProbeJob,
    Progress,
    scan_tcp_without_connecting,
    scan_udp_without_sending,
)
from netdiag.core.failures import NetworkFailure
from netdiag.core.probe import PortState, ProbeResult, Proto, Reason
from netdiag.core.targets import ProbeTarget

_SPARE_DESCRIPTORS = 64  # for stdio, the epoll and ICMP sockets, and whatever the interpreter holds


class ResolutionFailure(NamedTuple):
    host: str
    failure: NetworkFailure


class ProbeRun(NamedTuple):
    results: list[ProbeResult]
    resolution_failures: list[ResolutionFailure]
    concurrency: int  # the most probes in flight: the request, capped by the job count and open files
    limited_by_files: bool  # the open-files limit (ulimit -n) allowed fewer than this scan could use


def probe_targets(
    targets: Sequence[ProbeTarget],
    *,
    proto: Proto = Proto.TCP,
    timeout: float = 2.0,
    concurrency: int = 1000,
    family: int = socket.AF_UNSPEC,
    progress: Progress | None = None,
    connect: bool = False,
    payload: bytes = UDP_PAYLOAD,
) -> ProbeRun:
    """Resolve and probe ``targets``; results follow the targets' order, then address, then port."""
    slots: list[ProbeResult | list[ProbeJob]] = []
    failures: list[ResolutionFailure] = []
    for target in targets:
        try:
            addresses = resolve_host(target.host, family)
        except NetworkFailure as failure:
            failures.append(ResolutionFailure(target.host, failure))
            slots.extend(_unresolved(target, proto))
            continue
        for address in addresses:
            slots.append([ProbeJob(target.host, address, port) for port in target.ports])
    jobs = [job for slot in slots if isinstance(slot, list) for job in slot]
    wanted = max(1, min(concurrency, len(jobs)))  # a 3-port probe needs no 1000 descriptors
    in_flight = usable_concurrency(wanted)
    if proto == Proto.UDP:
        found = scan_udp_without_sending(jobs, timeout=timeout, concurrency=in_flight, progress=progress,
                                         payload=payload, connect=connect)
    else:
        found = scan_tcp_without_connecting(jobs, timeout=timeout, concurrency=in_flight, progress=progress,
                                            connect=connect)
    scanned = iter(found)
    results: list[ProbeResult] = []
    for slot in slots:
        if isinstance(slot, list):
            results.extend(next(scanned) for _ in slot)
        else:
            results.append(slot)
    return ProbeRun(results, failures, in_flight, limited_by_files=in_flight < wanted)


def usable_concurrency(requested: int) -> int:
    """``requested``, after raising the soft open-files limit as far as the hard limit allows."""
    limits = platform.raise_open_files_limit(requested + _SPARE_DESCRIPTORS)
    if limits is None or limits[0] == -1:  # no such limit here, or unlimited
        return max(1, requested)
    return max(1, min(requested, limits[0] - _SPARE_DESCRIPTORS))


def _unresolved(target: ProbeTarget, proto: Proto) -> list[ProbeResult]:
    return [
        ProbeResult(host=target.host, address=None, port=port, proto=proto, state=PortState.ERROR,
                    reason=Reason.DNS_FAILURE, rtt_ms=None)
        for port in target.ports
    ]
