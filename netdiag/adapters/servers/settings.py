"""What a server run needs to know, decided by the CLI and read by both engines."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.core.protocols.options import (
    DEFAULT_MAX_CLIENTS,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_QUEUE,
    Engine,
    LogFormat,
    Mode,
)

BACKLOG = 4096


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

    @property
    def proto(self) -> str:
        return "udp" if self.udp else "tcp"
