"""One handler per new connection, whatever the engine."""

from __future__ import annotations

from netdiag.core.protocols.chat import ChatRoom
from netdiag.core.protocols.handlers import (
    ConnectionHandler,
    EchoHandler,
    GreetHandler,
    ReplyHandler,
    SinkHandler,
)
from netdiag.core.protocols.options import DEFAULT_MAX_LINE, Mode

_ECHO = EchoHandler()
_SINK = SinkHandler()


def make_handler(mode: Mode, conn_id: int, peer: str, *, room: ChatRoom | None = None,
                 max_line: int = DEFAULT_MAX_LINE, idle_timeout: float | None = None) -> ConnectionHandler:
    """The handler for one new connection (echo and sink are stateless and shared)."""
    if mode is Mode.ECHO:
        return _ECHO
    if mode is Mode.SINK:
        return _SINK
    if mode is Mode.REPLY:
        return ReplyHandler(max_line=max_line, idle_timeout=idle_timeout)
    if mode is Mode.GREET:
        return GreetHandler(max_line=max_line, idle_timeout=idle_timeout)
    if room is None:
        raise ValueError("chat mode needs the server's ChatRoom")
    return room.session(conn_id, peer, max_line=max_line, idle_timeout=idle_timeout)
