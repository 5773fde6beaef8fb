"""The client side of ``netdiag connect``: open a TCP or UDP connection, exchange messages, report events.

Opening tries every address ``getaddrinfo`` returns, one after the other (trio's happy-eyeballs idea,
without the racing), and keeps each attempt: "refused on ::1, connected on 127.0.0.1" is itself a
diagnosis. ``OSError`` is translated into ``NetworkFailure`` (with the catalog's explanation) where it
happens. This module never prints: sessions are generators of events (``Received``, ``PeerClosed``,
...) that the CLI renders.

A reader thread turns the socket into a queue of events, so replies are reported as they arrive while
the caller waits on stdin (interactive chat) or on a deadline (scripted ``--message``). Chunks that
arrive within ``settle`` seconds of each other are reported as one reply: the lab's servers answer with
one ``send()`` and TCP may still split it, or glue a reply to the next one.
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
from netdiag.adapters.client.session import (
    DEFAULT_SETTLE,
    ClientEvent,
    HalfClosed,
    NoReply,
    PeerClosed,
    PeerKeptOpen,
    Received,
    Sent,
    Unsent,
    exchange_messages,
    interactive_session,
)

__all__ = [
    "DEFAULT_SETTLE",
    "Attempt",
    "ClientEvent",
    "ConnectFailure",
    "Connection",
    "HalfClosed",
    "NoReply",
    "PeerClosed",
    "PeerKeptOpen",
    "Received",
    "Sent",
    "Timings",
    "Unsent",
    "exchange_messages",
    "interactive_session",
    "open_connection",
    "resolve",
    "session_failure",
]
