"""What every load client shares: its tally, the time bounds it runs under, and how an error is counted.

The TCP and UDP clients (``tcp``, ``udp``) and the preflight (``target``) use these; nothing here opens a
socket.
"""

from __future__ import annotations

import asyncio
import errno
import sys
import time
from array import array
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from netdiag.core.loadplan import LoadPlan
from netdiag.core.loadstats import ErrorKind, error_kind_for_errno

T = TypeVar("T")

_BACKOFF_FIRST_S = 0.02
_BACKOFF_MAX_S = 0.5

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


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


async def bounded(awaitable: Awaitable[T], timeout: float) -> T:
    """``awaitable`` with a timeout (``asyncio.timeout`` where it exists: cheaper than ``wait_for``)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout)


async def backoff(failures: int, deadline: float) -> None:
    """Wait a little before reconnecting after a failed connection (never past the deadline)."""
    delay = min(_BACKOFF_FIRST_S * 2 ** min(failures, 5), _BACKOFF_MAX_S)
    await asyncio.sleep(max(0.0, min(delay, deadline - time.perf_counter())))


async def pace(plan: LoadPlan, start: float, sent: int) -> None:
    """With ``--rate``, wait until this client's next slot; a late client sends at once (no burst)."""
    interval = plan.per_client_interval
    if interval is not None:
        delay = start + sent * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)




def count_exception(tally: ClientTally, exc: BaseException, during: str, timeout: float) -> None:
    """Count an error met ``during`` connect, echo or udp by its kind (the report's columns); a timeout is
    said with its number of seconds."""
    if during == "udp" and isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        tally.error(ErrorKind.PORT_UNREACHABLE, "udp: ICMP port unreachable came back: no UDP socket is "
                                                "bound to that port (any more)")
    elif isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        kind = error_kind_for_errno(exc.errno, udp=during == "udp")
        tally.error(kind, f"{during}: {exc.strerror or exc}")
    else:
        tally.error(ErrorKind.TIMEOUT, f"{during}: no answer within {timeout:g} s")
