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

__all__ = ["Action", "Close", "CloseReason", "Mode", "Send", "coalesce"]


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


def coalesce(actions: list[Action]) -> list[Action]:
    """The same actions with each connection's consecutive ``Send``s joined into one.

    A burst of lines relayed to a room is a ``Send`` per line and per member; joined, it is one write
    per member (and one ``send`` event) instead of hundreds. What each connection receives, and in what
    order, is unchanged: a ``Send`` after a ``Close`` of the same connection stays after it.
    """
    if len(actions) < 2:
        return actions
    merged: list[Action] = []
    parts: dict[int, list[bytes]] = {}  # index in merged -> the data joined there
    open_send: dict[int | None, int] = {}  # connection -> index of its Send still open for joining
    for action in actions:
        if type(action) is Send:
            at = open_send.get(action.to)
            if at is None:
                open_send[action.to] = len(merged)
                parts[len(merged)] = [action.data]
                merged.append(action)
            else:
                parts[at].append(action.data)
        else:
            open_send.pop(action.to, None)
            merged.append(action)
    for at, data in parts.items():
        if len(data) > 1:
            merged[at] = Send(b"".join(data), merged[at].to)
    return merged
