"""The load generator: N asyncio clients sending requests to an echo server and checking every byte back.

Why asyncio: one thread can keep thousands of connections busy, so ``--clients 1000`` costs memory, not
threads. Every client runs a closed loop (send one request, wait for its full echo, repeat), optionally
paced to a total ``--rate``. The run is bounded twice: clients stop *starting* requests at ``duration``,
and whatever is still waiting is cancelled at ``plan.hard_stop``. Nothing here prints; errors met before
the load starts (name not resolved, nothing listening, target not on this host) are raised as netdiag
failures with the catalog's explanation; errors during the load are counted by kind in the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import sys
import time
from array import array
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from netdiag.adapters import platform
from netdiag.adapters.net.resolve import lookup
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.error_causes import classify_exception
from netdiag.core.failures import NetworkFailure
from netdiag.core.loadplan import HEADER_LEN, LoadPlan, is_local_address, make_payload, remote_refusal
from netdiag.core.loadstats import (
    ErrorKind,
    LatencySummary,
    LoadReport,
    error_kind_for_errno,
    merge_error_counts,
    mismatch_detail,
    udp_load_explanation,
)
from netdiag.core.targets import format_endpoint

T = TypeVar("T")

_BACKOFF_FIRST_S = 0.02
_BACKOFF_MAX_S = 0.5


@dataclass
class ClientTally:
    """What one client saw; merged into the report at the end."""

    latencies: array[float] = field(default_factory=lambda: array("d"))
    bytes_sent: int = 0
    bytes_received: int = 0
    connections: int = 0
    errors: dict[ErrorKind, int] = field(default_factory=dict)
    first_error: str | None = None

    def error(self, kind: ErrorKind, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if self.first_error is None:
            self.first_error = f"{kind.value}: {detail}"


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


def run_load(plan: LoadPlan, *, allow_remote: bool = False,
             addresses: list[tuple[int, str]] | None = None,
             on_start: Callable[[str], None] | None = None) -> LoadReport:
    """Resolve and check (unless ``addresses`` come from ``resolve_target``), then load the target for
    ``plan.duration`` seconds and report what happened. ``on_start(target)`` is called once the target
    answered and the load begins (from then on, Ctrl-C ends the run with a report)."""
    if addresses is None:
        addresses = resolve_target(plan, allow_remote=allow_remote)
    return asyncio.run(_run(plan, addresses, on_start))


async def _run(plan: LoadPlan, addresses: list[tuple[int, str]],
               on_start: Callable[[str], None] | None) -> LoadReport:
    family, address, opened = await _preflight(plan, addresses)
    tallies = [ClientTally() for _ in range(plan.clients)]
    with _interruptible() as interrupted:
        if on_start is not None:
            on_start(format_endpoint(address, plan.port))
        start = time.perf_counter()
        deadline = start + plan.duration
        client = _udp_client if plan.udp else _tcp_client
        tasks = [asyncio.ensure_future(client(i, plan, family, address, tallies[i], deadline))
                 for i in range(1 if opened is not None else 0, plan.clients)]
        if opened is not None:  # the check's connection is client 0's: it is not spent on a check
            tasks.insert(0, asyncio.ensure_future(
                _tcp_client(0, plan, family, address, tallies[0], deadline, opened)))
        all_done = asyncio.ensure_future(asyncio.wait(tasks))
        stopper = asyncio.ensure_future(interrupted.wait())
        await asyncio.wait([all_done, stopper], timeout=plan.hard_stop, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        await asyncio.wait([all_done], timeout=1.0)
    elapsed = time.perf_counter() - start
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # a bug in a client: let it show
    samples = array("d")
    for tally in tallies:
        samples.extend(tally.latencies)
    first_errors = [t.first_error for t in tallies if t.first_error]
    return LoadReport(
        target=format_endpoint(address, plan.port),
        proto="udp" if plan.udp else "tcp",
        clients=plan.clients,
        size=plan.size,
        rate=plan.rate,
        elapsed=elapsed,
        requests=len(samples),
        bytes_sent=sum(t.bytes_sent for t in tallies),
        bytes_received=sum(t.bytes_received for t in tallies),
        connections=sum(t.connections for t in tallies),
        latency=LatencySummary.of(samples),
        errors=merge_error_counts(t.errors for t in tallies),
        first_error=first_errors[0] if first_errors else None,
        interrupted=interrupted.is_set(),
        served_clients=sum(1 for t in tallies if t.latencies),
    )


@contextlib.contextmanager
def _interruptible() -> Iterator[asyncio.Event]:
    """An event set by Ctrl-C (SIGINT) during the load, so the run stops early and still reports, like
    ``ping``. Outside the main thread (no signal handlers there) the event simply never fires."""
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    undo = platform.on_stop_signals(loop, interrupted.set, signals=("SIGINT",))
    try:
        yield interrupted
    finally:
        undo()


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _preflight(plan: LoadPlan, addresses: list[tuple[int, str]]
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
            await _udp_round_trip_check(plan, family, address)
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
            opened = await _bounded(asyncio.open_connection(address, plan.port, family=family), plan.timeout)
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


async def _bounded(awaitable: Awaitable[T], timeout: float) -> T:
    """``awaitable`` with a timeout (``asyncio.timeout`` where it exists: cheaper than ``wait_for``)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout)


async def _backoff(failures: int, deadline: float) -> None:
    """Wait a little before reconnecting after a failed connection (never past the deadline)."""
    delay = min(_BACKOFF_FIRST_S * 2 ** min(failures, 5), _BACKOFF_MAX_S)
    await asyncio.sleep(max(0.0, min(delay, deadline - time.perf_counter())))


async def _pace(plan: LoadPlan, start: float, sent: int) -> None:
    """With ``--rate``, wait until this client's next slot; a late client sends at once (no burst)."""
    interval = plan.per_client_interval
    if interval is not None:
        delay = start + sent * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


async def _tcp_client(index: int, plan: LoadPlan, family: int, address: str, tally: ClientTally,
                      deadline: float, opened: Connection | None = None) -> None:
    """Connect, send/verify requests until the deadline; on an error, count it and reconnect.
    ``opened``: a connection made already (the check's), used first."""
    sequence = 0
    failures = 0
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        try:
            if opened is not None:
                (reader, writer), opened = opened, None
            else:
                reader, writer = await _bounded(
                    asyncio.open_connection(address, plan.port, family=family), plan.timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            _count_exception(tally, exc, "connect")
            failures += 1
            await _backoff(failures, deadline)
            continue
        tally.connections += 1
        try:
            while time.perf_counter() < deadline:
                await _pace(plan, start, sequence)
                payload = make_payload(index, sequence, plan.size)
                sequence += 1
                sent_at = time.perf_counter()
                writer.write(payload)
                tally.bytes_sent += len(payload)
                echoed = await _bounded(_read_echo(reader, payload), plan.timeout)
                latency = time.perf_counter() - sent_at
                tally.bytes_received += len(echoed)
                if echoed != payload:
                    tally.error(ErrorKind.MISMATCH, mismatch_detail(payload, echoed))
                    break  # the stream is out of step: start again on a fresh connection
                tally.latencies.append(latency)
                failures = 0
        except asyncio.IncompleteReadError as exc:
            tally.bytes_received += len(exc.partial)
            tally.error(ErrorKind.CLOSED, f"server closed the connection after {len(exc.partial)} of "
                                          f"{exc.expected} echoed bytes")
            failures += 1
        except (OSError, asyncio.TimeoutError) as exc:
            _count_exception(tally, exc, "echo")
            failures += 1
        finally:
            writer.close()
        if failures:
            await _backoff(failures, deadline)


def _count_exception(tally: ClientTally, exc: BaseException, during: str) -> None:
    if during == "udp" and isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        tally.error(ErrorKind.PORT_UNREACHABLE, "udp: ICMP port unreachable came back: no UDP socket is "
                                                "bound to that port (any more)")
    elif isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        kind = error_kind_for_errno(exc.errno, udp=during == "udp")
        tally.error(kind, f"{during}: {exc.strerror or exc}")
    else:
        tally.error(ErrorKind.TIMEOUT, f"{during}: no answer within the --timeout")


async def _read_echo(reader: asyncio.StreamReader, payload: bytes) -> bytes:
    """Read until the echo of ``payload`` is complete, or stop as soon as what arrived cannot be its
    start (a server that answers something else: that is a mismatch now, not a timeout later)."""
    received = await reader.read(len(payload))
    while len(received) < len(payload) and payload.startswith(received):
        if not received or reader.at_eof():
            raise asyncio.IncompleteReadError(received, len(payload))
        more = await reader.read(len(payload) - len(received))
        if not more:
            raise asyncio.IncompleteReadError(received, len(payload))
        received += more
    return received


class _DatagramClient(asyncio.DatagramProtocol):
    """Queues every datagram and ICMP error a connected UDP socket receives."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | OSError] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.inbox.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.inbox.put_nowait(exc)


async def _open_udp(plan: LoadPlan, family: int, address: str
                    ) -> tuple[asyncio.DatagramTransport, _DatagramClient]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        _DatagramClient, remote_addr=(address, plan.port), family=family)
    return transport, protocol


async def _udp_round_trip_check(plan: LoadPlan, family: int, address: str) -> None:
    """Preflight for UDP: one datagram must come back (UDP has no connect to tell us otherwise)."""
    transport, protocol = await _open_udp(plan, family, address)
    try:
        transport.sendto(make_payload(0, 0, min(plan.size, 64)))
        answer = await _bounded(protocol.inbox.get(), plan.timeout)
        if isinstance(answer, OSError):
            raise answer
    finally:
        transport.close()


async def _udp_client(index: int, plan: LoadPlan, family: int, address: str, tally: ClientTally,
                      deadline: float) -> None:
    """One connected UDP socket; a reply that never comes within the timeout counts as ``timeout``."""
    transport, protocol = await _open_udp(plan, family, address)
    tally.connections += 1
    sequence = 0
    start = time.perf_counter()
    try:
        while time.perf_counter() < deadline:
            await _pace(plan, start, sequence)
            payload = make_payload(index, sequence, plan.size)
            sent_at = time.perf_counter()
            transport.sendto(payload)
            tally.bytes_sent += len(payload)
            try:
                echoed = await _bounded(_next_reply(protocol, index, sequence, plan.size), plan.timeout)
            except asyncio.TimeoutError:
                tally.error(ErrorKind.NO_ANSWER, "udp: no answer within the --timeout (the datagram or "
                                                 "its echo was lost, or the server did not answer it)")
                sequence += 1
                continue
            except OSError as exc:
                _count_exception(tally, exc, "udp")
                sequence += 1
                await _backoff(1, deadline)
                continue
            latency = time.perf_counter() - sent_at
            tally.bytes_received += len(echoed)
            sequence += 1
            if echoed != payload:
                tally.error(ErrorKind.MISMATCH, mismatch_detail(payload, echoed))
            else:
                tally.latencies.append(latency)
    finally:
        transport.close()


async def _next_reply(protocol: _DatagramClient, index: int, sequence: int, size: int) -> bytes:
    """The next datagram that is not a late echo of an earlier (already timed-out) request."""
    while True:
        item = await protocol.inbox.get()
        if isinstance(item, OSError):
            raise item
        if not _is_stale(item, index, sequence, size):
            return item


def _is_stale(reply: bytes, index: int, sequence: int, size: int) -> bool:
    if size <= HEADER_LEN:
        return False
    for earlier in range(max(0, sequence - 8), sequence):
        if reply == make_payload(index, earlier, size):
            return True
    return False

