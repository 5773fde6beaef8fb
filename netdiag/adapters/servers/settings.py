"""What a server run needs to know, decided by the CLI and read by both engines."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from netdiag.core.protocols.options import (
    DEFAULT_MAX_CLIENTS,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_QUEUE,
    Mode,
)


class Engine(str, Enum):
    """``--engine``: how connections are served (the protocols are the same)."""

    ASYNCIO = "asyncio"
    THREADS = "threads"


class LogFormat(str, Enum):
    """``--log``: human lines for watching, JSON lines for scripts and tests."""

    HUMAN = "human"
    JSON = "json"


SHUTDOWN_GRACE = 0.5
"""Seconds the shutdown waits for goodbyes to be written before aborting what is left."""
LINGER = 2.0
"""Seconds a connection closed for a limit keeps draining input, so the client reads our notice."""
CLOSE_GRACE = 2.0
"""Seconds a closed connection may take to write what is still queued for it before it is aborted: a
client that reads none of it would otherwise hold its socket (and a descriptor) for ever."""
WARN_EVERY = 10.0
"""Seconds between two warnings about the same shortage."""
BACKLOG = 4096
"""The kernel's queue of connections not yet accepted (a burst of connects waits there)."""
ACCEPT_BATCH = 64
"""Connections the asyncio engine accepts per wake-up (fewer under a low open-files limit:
``descriptors.DescriptorBudget.turn_away``)."""


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 0
    mode: Mode = Mode.ECHO
    udp: bool = False
    engine: Engine = Engine.ASYNCIO
    log: LogFormat = LogFormat.HUMAN
    quiet: bool = False
    max_clients: int = DEFAULT_MAX_CLIENTS
    max_line: int = DEFAULT_MAX_LINE
    max_queue: int = DEFAULT_MAX_QUEUE
    idle_timeout: float | None = None
    accept_batch: int = ACCEPT_BATCH

    @property
    def proto(self) -> str:
        return "udp" if self.udp else "tcp"
