"""The client side of ``netdiag connect``: open a TCP or UDP connection, exchange messages, report events.

``connection`` opens it (every resolved address tried, each attempt kept, ``OSError`` explained with the
catalog's words where it happens) and reads the socket in a thread; ``session`` drives a scripted or an
interactive exchange as a generator of events (``Received``, ``PeerClosed``, ...: ``core.client_events``)
that the CLI renders (``render.connect_view``).
Nothing here prints.
"""

from netdiag.adapters.client.connection import (
    Attempt,
    ConnectFailure,
    Connection,
    Timings,
    open_connection,
    resolve,
    session_failure,
)
from netdiag.adapters.client.session import DEFAULT_SETTLE, exchange_messages, interactive_session

__all__ = [
    "DEFAULT_SETTLE",
    "Attempt",
    "ConnectFailure",
    "Connection",
    "Timings",
    "exchange_messages",
    "interactive_session",
    "open_connection",
    "resolve",
    "session_failure",
]
