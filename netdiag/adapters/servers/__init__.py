"""The servers behind ``netdiag listen``: a bound socket, an engine, the event log.

``run_server`` opens the listening socket first (so bind errors are explained before anything else
happens), raises the open-files limit, then hands the socket to the chosen engine. Engines: ``asyncio_engine``
(asyncio Protocols, the default) and ``thread_engine`` (thread per client, like the lab). Both drive the
sans-I/O handlers of ``netdiag.core.protocols``.

The asyncio engine runs on uvloop's event loop when the ``uvloop`` package is installed (a netdiag
dependency wherever uvloop exists: it needs about a third less CPU per request than the standard
library's loop), else on the standard library's. ``NETDIAG_LOOP=asyncio`` forces the standard library's
loop. On either loop the engine accepts connections itself (``accepting.Acceptor``), so the log
names every peer, even one that reset before it was accepted.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from netdiag.adapters import platform
from netdiag.adapters.servers.settings import Engine
from netdiag.core.failures import NetdiagError
from netdiag.core.protocols.events import EventKind, ServerWarning

from .binding import open_listener
from .eventlog import EventLog
from .settings import ServerSettings

__all__ = ["Engine", "EventLog", "LoopOutOfFiles", "ServerSettings", "event_loop_name", "run_server"]

T = TypeVar("T")


class LoopOutOfFiles(NetdiagError):
    """The event loop could not open the descriptors it needs to start (``loop``: its name); the CLI
    words the advice, which names its options."""

    def __init__(self, loop: str) -> None:
        super().__init__(f"the event loop ({loop}) could not open the files it needs (too many open files)",
                         errno=errno.EMFILE)
        self.loop = loop


def event_loop_name() -> str:
    """``uvloop`` when it is installed, unless ``NETDIAG_LOOP=asyncio`` asks for the stdlib's loop."""
    if os.environ.get("NETDIAG_LOOP", "auto") == "asyncio":
        return "asyncio"
    return "uvloop" if platform.has_uvloop() else "asyncio"


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    if event_loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def out_of_descriptors(exc: BaseException | None) -> bool:
    """Whether ``exc`` or what it was raised while handling is EMFILE/ENFILE (a loop that fails to start
    for want of descriptors can end in a RuntimeError about itself, raised while handling that)."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def run_server(settings: ServerSettings, log: EventLog,
               on_ready: Callable[[str, int], None] | None = None,
               warn: Callable[[ServerWarning], None] | None = None,
               before_shutdown: Callable[[], None] | None = None) -> None:
    """Bind, call ``on_ready(host, port)``, announce ``listening``, serve until SIGINT/SIGTERM.

    ``warn`` receives the shortages of the machine while serving (out of file descriptors, of threads),
    as facts for the caller to word;
    ``before_shutdown`` runs once serving is over, before ``shutdown`` is logged (``--observe`` stops
    its capture there, so that its last lines come before it).
    """
    sock = open_listener(settings.host, settings.port, udp=settings.udp)
    host, port = sock.getsockname()[:2]

    def announce() -> None:
        if on_ready is not None:
            on_ready(host, port)
        log.emit(EventKind.LISTENING, proto=settings.proto, host=host, port=port,
                 mode=settings.mode.value, engine=settings.engine.value)

    if settings.engine is Engine.THREADS:
        from . import thread_engine

        closed = thread_engine.serve(sock, settings, log, announce, warn)
    else:
        from . import asyncio_engine

        try:
            closed = run_loop(asyncio_engine.serve(sock, settings, log, announce, warn))
        except (OSError, RuntimeError) as exc:
            if not out_of_descriptors(exc):
                raise
            sock.close()
            raise LoopOutOfFiles(event_loop_name()) from exc
    if before_shutdown is not None:
        before_shutdown()
    log.emit(EventKind.SHUTDOWN, closed=closed)
    log.flush()
