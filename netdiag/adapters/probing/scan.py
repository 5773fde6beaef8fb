"""Probing ports: ``probe_tcp``/``probe_udp`` for one port, ``scan_tcp``/``scan_udp`` for many.

The loop itself is ``engine`` (non-blocking sockets and epoll); large scans are split across forked
workers (``workers``), which is what lets a Python scanner keep up with nmap on loopback. Ports of this
host are answered from the socket table (``socket_table``) when the caller asks for no contact, and
remote ones with half-open SYN probes where raw sockets are allowed (``half_open``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netdiag.adapters.probing.engine import Outcome, ProbeJob, Progress, Scan, TcpScan, UdpScan
from netdiag.adapters.probing.workers import DEFAULT_CONCURRENCY, PARALLEL_FROM, run_scan
from netdiag.core.payload import DEFAULT_PAYLOAD
from netdiag.core.probe import ProbeMethod, ProbeResult, Proto

__all__ = [
    "ProbeJob",
    "Progress",
    "probe_tcp",
    "probe_udp",
    "scan_tcp",
    "scan_udp",
    "scan_udp_without_sending",
]

DEFAULT_TIMEOUT = 2.0
# Remote scans this big keep the connect scanner: measured 20-40% faster than SYN probes for 65,535 ports
# (docs/performance.md), and speed is what a big scan is for. Below it, SYN probes (no harm) are used.
SYN_SCAN_LIMIT = PARALLEL_FROM
UDP_PAYLOAD = DEFAULT_PAYLOAD  # "hello" (netdiag.core.payload says why); never an empty datagram


def probe_tcp(address: str, port: int, *, host: str | None = None,
              timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """Connect to ``address:port`` once and say how it went (never raises for a network answer)."""
    return scan_tcp([ProbeJob(host or address, address, port)], timeout=timeout)[0]


def probe_udp(address: str, port: int, *, host: str | None = None, timeout: float = DEFAULT_TIMEOUT,
              payload: bytes = UDP_PAYLOAD) -> ProbeResult:
    """Send one UDP datagram (again at half the timeout) to ``address:port`` and classify the answer."""
    return scan_udp([ProbeJob(host or address, address, port)], timeout=timeout, payload=payload)[0]


def scan_tcp(jobs: Sequence[ProbeJob], *, timeout: float = DEFAULT_TIMEOUT,
             concurrency: int = DEFAULT_CONCURRENCY, progress: Progress | None = None,
             workers: int | None = None) -> list[ProbeResult]:
    """TCP-connect every job, at most ``concurrency`` in flight in all; results in job order."""
    def factory(share: Sequence[ProbeJob], in_flight: int, report: Progress | None) -> Scan:
        return TcpScan(share, timeout=timeout, concurrency=in_flight, progress=report)

    return _results(jobs, Proto.TCP, run_scan(factory, jobs, concurrency, progress, workers))


def scan_udp(jobs: Sequence[ProbeJob], *, timeout: float = DEFAULT_TIMEOUT,
             concurrency: int = DEFAULT_CONCURRENCY, progress: Progress | None = None,
             payload: bytes = UDP_PAYLOAD, workers: int | None = None) -> list[ProbeResult]:
    """UDP-probe every job, at most ``concurrency`` in flight in all; results in job order."""
    def factory(share: Sequence[ProbeJob], in_flight: int, report: Progress | None) -> Scan:
        return UdpScan(share, timeout=timeout, concurrency=in_flight, progress=report, payload=payload)

    return _results(jobs, Proto.UDP, run_scan(factory, jobs, concurrency, progress, workers))


def scan_tcp_without_connecting(jobs: Sequence[ProbeJob], *, timeout: float = DEFAULT_TIMEOUT,
                                concurrency: int = DEFAULT_CONCURRENCY, progress: Progress | None = None,
                                this_host: Callable[[str], bool] | None = None,
                                connect: bool = False) -> list[ProbeResult]:
    """Each job asked in the way that disturbs its server least (docs/probe.md, "Diagnosis does no harm").

    Ports of this host are read from the socket table (nothing sent); other hosts get a half-open SYN
    when raw sockets are allowed and the scan is below ``SYN_SCAN_LIMIT`` ports, else a connection closed
    gracefully. ``connect`` asks for a real
    connection everywhere (the path through this host's firewall, or a server's own accept()).
    """
    if connect or not jobs:
        return scan_tcp(jobs, timeout=timeout, concurrency=concurrency, progress=progress)
    local, remote = _split_by_host(jobs, this_host)
    results: list[ProbeResult | None] = [None] * len(jobs)
    if local:
        for i, result in zip(local, _from_socket_table([jobs[i] for i in local], Proto.TCP), strict=True):
            results[i] = result
    if remote:
        from netdiag.adapters.probing.half_open import scan_syn

        remote_jobs = [jobs[i] for i in remote]
        outcomes = None if len(remote_jobs) >= SYN_SCAN_LIMIT else \
            scan_syn(remote_jobs, timeout=timeout, concurrency=concurrency, progress=progress)
        found = _results(remote_jobs, Proto.TCP, outcomes, ProbeMethod.SYN) if outcomes is not None else \
            scan_tcp(remote_jobs, timeout=timeout, concurrency=concurrency, progress=progress)
        for i, result in zip(remote, found, strict=True):
            results[i] = result
    return [result for result in results if result is not None]


def scan_udp_without_sending(jobs: Sequence[ProbeJob], *, timeout: float = DEFAULT_TIMEOUT,
                             concurrency: int = DEFAULT_CONCURRENCY, progress: Progress | None = None,
                             payload: bytes = UDP_PAYLOAD, this_host: Callable[[str], bool] | None = None,
                             connect: bool = False) -> list[ProbeResult]:
    """UDP ports of this host read from the socket table (a bound socket receives, none means ICMP
    port-unreachable: nothing is sent, so no server logs or answers a probe); other hosts, and every
    host with ``connect``, get the ``payload`` datagram (``scan_udp``)."""
    if connect or not jobs:
        return scan_udp(jobs, timeout=timeout, concurrency=concurrency, progress=progress, payload=payload)
    local, remote = _split_by_host(jobs, this_host)
    results: list[ProbeResult | None] = [None] * len(jobs)
    if local:
        for i, result in zip(local, _from_socket_table([jobs[i] for i in local], Proto.UDP), strict=True):
            results[i] = result
    if remote:
        found = scan_udp([jobs[i] for i in remote], timeout=timeout, concurrency=concurrency,
                         progress=progress, payload=payload)
        for i, result in zip(remote, found, strict=True):
            results[i] = result
    return [result for result in results if result is not None]


def _split_by_host(jobs: Sequence[ProbeJob],
                   this_host: Callable[[str], bool] | None) -> tuple[list[int], list[int]]:
    """The indexes of the jobs aimed at this host, and of the others (each address tested once)."""
    from netdiag.adapters.listing.listeners import is_this_host

    local_test = this_host or is_this_host
    verdicts: dict[str, bool] = {}
    local: list[int] = []
    remote: list[int] = []
    for index, job in enumerate(jobs):
        mine = verdicts.get(job.address)
        if mine is None:
            mine = verdicts[job.address] = local_test(job.address)
        (local if mine else remote).append(index)
    return local, remote


def _from_socket_table(jobs: list[ProbeJob], proto: Proto) -> list[ProbeResult]:
    """The jobs (ports of this host) answered from the socket table, with a detail sentence for a few."""
    from netdiag.adapters.listing.listeners import tcp_listeners, udp_receivers
    from netdiag.adapters.probing.socket_table import details, read_table

    udp = proto == Proto.UDP
    ports = {job.port for job in jobs} if len(jobs) <= 25 else None
    listeners = udp_receivers(ports) if udp else tcp_listeners(ports)
    found = _results(jobs, proto, read_table(jobs, listeners, udp=udp), ProbeMethod.SOCKET_TABLE)
    if len(jobs) <= 25:  # a few ports: say which socket answers (and a TCP listener's accept queue)
        for result, detail in zip(found, details(jobs, listeners, udp=udp), strict=True):
            result.__dict__["detail"] = detail
    return found


def _results(jobs: Sequence[ProbeJob], proto: Proto, outcomes: list[Outcome],
             method: ProbeMethod = ProbeMethod.CONNECT) -> list[ProbeResult]:
    """``ProbeResult``s built without the frozen dataclass's per-field ``object.__setattr__`` (3 µs
    each, 0.2 s for a full scan): the instance dict is filled in one call instead."""
    new, set_dict, results = object.__new__, object.__setattr__, []
    for job, (state, reason, rtt_ms, error, icmp_from) in zip(jobs, outcomes, strict=True):
        result = new(ProbeResult)
        set_dict(result, "__dict__", {
            "host": job.host, "address": job.address, "port": job.port, "proto": proto, "state": state,
            "reason": reason, "rtt_ms": rtt_ms, "errno": error, "icmp_from": icmp_from, "method": method,
            "detail": None})
        results.append(result)
    return results
