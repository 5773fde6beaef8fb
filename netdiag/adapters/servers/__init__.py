"""The servers behind ``netdiag listen``: a bound socket, an engine, the event log.

``run_server`` opens the listening socket first (so bind errors are explained before anything else
happens), raises the open-files limit, then hands the socket to the chosen engine. Engines: ``aio``
(asyncio Protocols, the default) and ``threads`` (thread per client, like the lab). Both drive the
sans-I/O handlers of ``netdiag.core.protocols``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from netdiag.core.protocols.events import EventKind
from netdiag.core.protocols.options import Engine

from .binding import open_listener
from .eventlog import EventLog
from .settings import ServerSettings

__all__ = ["Engine", "EventLog", "ServerSettings", "run_server"]


def run_server(settings: ServerSettings, log: EventLog,
               on_ready: Callable[[str, int], None] | None = None) -> None:
    """Bind, call ``on_ready(host, port)``, announce ``listening``, serve until SIGINT/SIGTERM."""
    sock = open_listener(settings.host, settings.port, udp=settings.udp)
    host, port = sock.getsockname()[:2]

    def announce() -> None:
        if on_ready is not None:
            on_ready(host, port)
        log.emit(EventKind.LISTENING, proto=settings.proto, host=host, port=port,
                 mode=settings.mode.value, engine=settings.engine.value)

    if settings.engine is Engine.THREADS:
        from . import threads

        closed = threads.serve(sock, settings, log, announce)
    else:
        from . import aio

        closed = asyncio.run(aio.serve(sock, settings, log, announce))
    log.emit(EventKind.SHUTDOWN, closed=closed)
