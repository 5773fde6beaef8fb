"""How many clients the open-files limit (``ulimit -n``, RLIMIT_NOFILE) leaves room for.

Every connection is a file descriptor, and so is much of the server itself: the standard streams, the
listening socket, and the event loop's own (uvloop's libuv opens ten). Starting a loop without them
crashed (uvloop aborts the process; the standard library's loop fails half-built), and a fixed reserve
of 128 left a server with ``ulimit -n 64`` one client though some fifty descriptors were free. So the
budget is counted: what is open now, what the engine will open, a few spare, one descriptor per
client, and a few to turn away the clients over the limit (each is accepted, told the server is busy,
and closed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from netdiag.adapters.servers.settings import Engine

from .settings import ACCEPT_BATCH

LOOP_DESCRIPTORS = {"uvloop": 10, "asyncio": 3}
"""What each event loop opens for itself, measured on Linux. uvloop (libuv 1.4x): epoll, io_uring,
two pipes (4), an eventfd, the socketpair that carries signals (2), and the reserve ``/dev/null``
libuv opens with the first connection. The standard library's loop: epoll and its self-pipe (2)."""
SPARE = 2
"""Files Python may still open while serving (a module imported on first use)."""
STDIO = 3


def descriptors_in_use(limit: int) -> int:
    """Descriptors open now that count against ``limit`` (only numbers below it do).

    ``/dev/fd`` lists them on Linux, macOS and the BSDs; the listing includes the descriptor that reads
    the directory, closed again at once (hence the 1 taken off). Elsewhere: the standard streams.
    """
    try:
        names = os.listdir("/dev/fd")
    except OSError:
        return STDIO
    return max(1, sum(1 for name in names if name.isdigit() and int(name) < limit) - 1)


@dataclass(frozen=True)
class DescriptorBudget:
    """The open-files ``limit`` shared out: ``fixed`` for the server, the rest for clients."""

    limit: int
    in_use: int
    """Open before serving, the listening socket included."""
    loop: int
    """What the engine's event loop opens (0 for threads)."""
    udp: bool = False

    @property
    def fixed(self) -> int:
        return self.in_use + self.loop + SPARE

    @property
    def turn_away(self) -> int:
        """Descriptors kept for accepting clients over the limit (to tell them so): up to one accept
        batch, fewer when the limit is low. Also the asyncio engine's accept batch."""
        if self.udp:
            return 0
        return max(1, min(ACCEPT_BATCH, (self.limit - self.fixed) // 8))

    @property
    def clients(self) -> int:
        """Clients served at once (0 for UDP, which has none; negative: the limit is too low)."""
        return 0 if self.udp else self.limit - self.fixed - self.turn_away

    @property
    def minimum(self) -> int:
        """The lowest limit that serves: the fixed part, one client and one to turn away (TCP)."""
        return self.fixed if self.udp else self.fixed + 2

    @property
    def enough(self) -> bool:
        return self.limit >= self.minimum


def descriptor_budget(limit: int, engine: Engine, loop_name: str, *, udp: bool = False) -> DescriptorBudget:
    """The budget for serving with ``engine`` (on ``loop_name``) under ``limit``, counted before the
    listening socket is opened (it is added here)."""
    loop = 0 if engine is Engine.THREADS else LOOP_DESCRIPTORS.get(loop_name, LOOP_DESCRIPTORS["uvloop"])
    return DescriptorBudget(limit=limit, in_use=descriptors_in_use(limit) + 1, loop=loop, udp=udp)
