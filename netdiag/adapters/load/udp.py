"""A UDP load client: one connected UDP socket, each datagram's echo awaited and checked, a lost one counted.

UDP has no connection to tell that nothing listens, so the preflight (``udp_round_trip_check``) needs one
datagram to come back before the load starts; ICMP errors arrive as ``OSError`` in the client's inbox.
"""

from __future__ import annotations

import asyncio
import time

from netdiag.core.loadplan import HEADER_LEN, LoadPlan, make_payload
from netdiag.core.loadstats import ErrorKind, mismatch_detail

from .clients import ClientTally, backoff, bounded, count_exception, pace


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


async def udp_round_trip_check(plan: LoadPlan, family: int, address: str) -> None:
    """Preflight for UDP: one datagram must come back (UDP has no connect to tell us otherwise)."""
    transport, protocol = await _open_udp(plan, family, address)
    try:
        transport.sendto(make_payload(0, 0, min(plan.size, 64)))
        answer = await bounded(protocol.inbox.get(), plan.timeout)
        if isinstance(answer, OSError):
            raise answer
    finally:
        transport.close()


async def udp_client(index: int, plan: LoadPlan, family: int, address: str, tally: ClientTally,
                      deadline: float) -> None:
    """One connected UDP socket; a reply that never comes within the timeout counts as ``timeout``."""
    transport, protocol = await _open_udp(plan, family, address)
    tally.connections += 1
    sequence = 0
    start = time.perf_counter()
    try:
        while time.perf_counter() < deadline:
            await pace(plan, start, sequence)
            payload = make_payload(index, sequence, plan.size)
            sent_at = time.perf_counter()
            transport.sendto(payload)
            tally.bytes_sent += len(payload)
            try:
                echoed = await bounded(_next_reply(protocol, index, sequence, plan.size), plan.timeout)
            except asyncio.TimeoutError:
                tally.error(ErrorKind.NO_ANSWER, f"udp: no answer within {plan.timeout:g} s (the datagram or "
                                                 "its echo was lost, or the server did not answer it)")
                sequence += 1
                continue
            except OSError as exc:
                count_exception(tally, exc, "udp", plan.timeout)
                sequence += 1
                await backoff(1, deadline)
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
