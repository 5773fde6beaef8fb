"""The servers behind ``netdiag listen``: a bound socket, an engine, the event log.

``run_server`` opens the listening socket first (so bind errors are explained before anything else
happens), raises the open-files limit, then hands the socket to the chosen engine. Engines: ``aio``
(asyncio Protocols, the default) and ``threads`` (thread per client, like the lab). Both drive the
sans-I/O handlers of ``netdiag.core.protocols``.

The asyncio engine runs on the standard library's event loop. ``NETDIAG_LOOP=uvloop`` runs the same
Protocol code on uvloop's loop when that package is installed (about a third less CPU per request on
loopback). Not the default: uvloop cannot name the peer of a connection reset before it was accepted
(``getpeername`` fails; the stdlib loop keeps the address ``accept()`` returned), and the log shows
``?`` for it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from netdiag.core.protocols.events import EventKind
from netdiag.core.protocols.options import Engine

from .binding import open_listener
from .eventlog import EventLog
from .settings import ServerSettings

__all__ = ["Engine", "EventLog", "ServerSettings", "event_loop_name", "run_server"]

T = TypeVar("T")


def event_loop_name() -> str:
    """``uvloop`` when ``NETDIAG_LOOP=uvloop`` asks for it and it is installed, else ``asyncio``."""
    if os.environ.get("NETDIAG_LOOP", "asyncio") != "uvloop":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    if event_loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def run_server(settings: ServerSettings, log: EventLog,
               on_ready: Callable[[str, int], None] | None = None,
               warn: Callable[[str], None] | None = None) -> None:
    """Bind, call ``on_ready(host, port)``, announce ``listening``, serve until SIGINT/SIGTERM.

    ``warn`` receives one-line warnings about the machine while serving (out of file descriptors).
    """
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

        closed = run_loop(aio.serve(sock, settings, log, announce, warn))
    log.emit(EventKind.SHUTDOWN, closed=closed)
    log.flush()
