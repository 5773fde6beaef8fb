"""What both engines share: the ``--max-clients`` slots, a handler per connection, carrying out the
handlers' actions, and how a connection's end is logged.

The engines differ in how they wait (an event loop, a thread per client), not in what a connection
means, so that part is written once here. A slot is freed the moment a connection is known to be over,
*before* its ``close`` (or ``reset``) event is logged: whoever reads that event and connects again is
admitted, even while the server still drains the old socket for a moment (``line-too-long``) or the
old connection's thread is still finishing.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Generic, Protocol, TypeVar

from netdiag.core.protocols.actions import Action, CloseReason, Mode, Send
from netdiag.core.protocols.chat import ChatRoom
from netdiag.core.protocols.events import EventKind
from netdiag.core.protocols.factory import make_handler
from netdiag.core.protocols.handlers import ConnectionHandler
from netdiag.core.targets import format_endpoint

from .eventlog import EventLog
from .settings import ServerSettings


class Connection(Protocol):
    """What ``Server.perform`` needs of an engine's connection."""

    closed: bool

    def send(self, data: bytes) -> None: ...

    def close(self, reason: CloseReason) -> None: ...


C = TypeVar("C", bound=Connection)


class Server(Generic[C]):
    """State of one TCP server, whatever the engine: settings, log, open connections, room, slots."""

    def __init__(self, settings: ServerSettings, log: EventLog) -> None:
        self.settings, self.log = settings, log
        self.room = ChatRoom() if settings.mode is Mode.CHAT else None
        self.connections: dict[int, C] = {}
        self.ids = itertools.count(1)
        self.admitted = 0
        self._slots = threading.Lock()  # the thread engine frees slots from many threads

    def handler_for(self, conn_id: int, peer: str) -> ConnectionHandler:
        s = self.settings
        return make_handler(s.mode, conn_id, peer, room=self.room, max_line=s.max_line,
                            idle_timeout=s.idle_timeout)

    def take_slot(self) -> bool:
        """Admit one more client unless ``--max-clients`` are being served."""
        with self._slots:
            if self.admitted >= self.settings.max_clients:
                return False
            self.admitted += 1
            return True

    def free_slot(self) -> None:
        with self._slots:
            self.admitted -= 1

    def find(self, conn_id: int) -> C | None:
        return self.connections.get(conn_id)

    def perform(self, origin: C | None, actions: list[Action]) -> None:
        """Carry out a handler's actions in order; ``to=None`` targets ``origin``."""
        for action in actions:
            target = origin if action.to is None else self.find(action.to)
            if target is None or target.closed:
                continue
            if type(action) is Send:
                target.send(action.data)
            else:
                target.close(action.reason)  # type: ignore[union-attr]


def end_connection(server: Server[C], peer: str, reason: CloseReason, *, reset: bool = False) -> None:
    """A connection is over: free its slot, then log how it ended (``reset``: the client sent RST)."""
    server.free_slot()
    if not server.log.verbose:
        return
    if reset:
        server.log.emit(EventKind.RESET, peer=peer)
    else:
        by = "client" if reason is CloseReason.EOF else "server"
        server.log.emit(EventKind.CLOSE, peer=peer, by=by, reason=reason.value)


def peer_name(address: Any) -> str:
    """A peer's address as the log names it (``[::1]:5000``), or ``?`` when the OS gave none."""
    return format_endpoint(str(address[0]), int(address[1])) if address else "?"
