"""What a protocol handler asks its engine to do: the vocabulary shared by every handler and engine.

Handlers never touch a socket. They return a sequence of actions; the engine (asyncio or threads)
performs them in order. ``to=None`` means "the connection that was fed the bytes"; chat deliveries name
another connection by its id, which the engine maps to a transport. Actions are named tuples because
the echo path builds one per chunk received and must stay cheap.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from netdiag.core.protocols.options import Mode

__all__ = ["Action", "Close", "CloseReason", "Mode", "Send"]


class CloseReason(str, Enum):
    """Why a connection ended: the ``reason`` of the ``close`` event (stable JSON values)."""

    EOF = "eof"
    QUIT = "quit"
    GREETED = "greeted"
    IDLE_TIMEOUT = "idle-timeout"
    LINE_TOO_LONG = "line-too-long"
    SLOW_READER = "slow-reader"
    MAX_CLIENTS = "max-clients"
    THREAD_LIMIT = "thread-limit"
    SHUTDOWN = "shutdown"
    RESET = "reset"
    ERROR = "error"


class Send(NamedTuple):
    """Write ``data`` to connection ``to`` (``None``: the current connection)."""

    data: bytes
    to: int | None = None


class Close(NamedTuple):
    """End connection ``to`` (``None``: the current one) after everything queued for it is written."""

    reason: CloseReason
    to: int | None = None


Action = Send | Close
