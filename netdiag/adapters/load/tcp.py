"""A TCP load client: a closed loop of one request, its full echo checked byte for byte, the next request.

On an error the client counts it, backs off a little and reconnects, until the deadline.
"""

from __future__ import annotations

import asyncio
import time

from netdiag.core.loadplan import LoadPlan, make_payload
from netdiag.core.loadstats import ErrorKind, mismatch_detail

from .clients import ClientTally, Connection, backoff, bounded, count_exception, pace


async def tcp_client(index: int, plan: LoadPlan, family: int, address: str, tally: ClientTally,
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
                reader, writer = await bounded(
                    asyncio.open_connection(address, plan.port, family=family), plan.timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            count_exception(tally, exc, "connect", plan.timeout)
            failures += 1
            await backoff(failures, deadline)
            continue
        tally.connections += 1
        try:
            while time.perf_counter() < deadline:
                await pace(plan, start, sequence)
                payload = make_payload(index, sequence, plan.size)
                sequence += 1
                sent_at = time.perf_counter()
                writer.write(payload)
                tally.bytes_sent += len(payload)
                echoed = await bounded(_read_echo(reader, payload), plan.timeout)
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
            count_exception(tally, exc, "echo", plan.timeout)
            failures += 1
        finally:
            writer.close()
        if failures:
            await backoff(failures, deadline)


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
