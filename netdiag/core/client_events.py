"""What happens during a ``netdiag connect`` session, as data: the events a session yields.

The client adapter (``adapters.client.session``) produces them from a real socket; the connect view
(``render.connect_view``) words them and builds their JSON records. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Received:
    """Bytes from the peer (one reply: chunks that arrived within ``settle`` of each other).

    ``partial``: the reply goes on in the next ``Received`` (a long reply, or one still trickling in).
    """

    data: bytes
    partial: bool = False


@dataclass(frozen=True)
class Sent:
    """Bytes written to the peer."""

    data: bytes


@dataclass(frozen=True)
class NoReply:
    """Nothing came back for ``message`` within ``timeout`` seconds."""

    message: bytes
    timeout: float


@dataclass(frozen=True)
class PeerClosed:
    """The peer closed its side (TCP FIN, read returned EOF)."""


@dataclass(frozen=True)
class HalfClosed:
    """We closed our sending side (SHUT_WR) and now wait, bounded, for the rest of the replies."""


@dataclass(frozen=True)
class Unsent:
    """Messages left unsent because the peer had closed the connection first."""

    messages: tuple[bytes, ...]


@dataclass(frozen=True)
class PeerKeptOpen:
    """After our half-close the peer neither answered nor closed within ``timeout`` seconds."""

    timeout: float


@dataclass(frozen=True)
class PeerKeepsSending:
    """After our half-close the peer sent ``unit`` over and over (``size`` bytes in ``seconds``) without
    closing: it loops on ``recv()`` returning ``b""`` (the lab's 1.10 server). The session stopped there."""

    unit: bytes
    size: int
    seconds: float


@dataclass(frozen=True)
class LineEnding:
    """Interactive, newline chosen automatically: the server answered the first line sent without its
    newline (``lines`` False: the lab's one-message-per-send style) or did not (``lines`` True: the newline
    followed and every later line keeps its own)."""

    lines: bool


@dataclass(frozen=True)
class TimeLimit:
    """``--max-time`` seconds have passed since the session began: it was ended there."""

    max_time: float


ClientEvent = (Received | Sent | NoReply | PeerClosed | HalfClosed | Unsent | PeerKeptOpen | TimeLimit
               | PeerKeepsSending | LineEnding)
