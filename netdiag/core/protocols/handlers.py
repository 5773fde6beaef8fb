"""The lab protocols as sans-I/O connection handlers: bytes in, actions out, no socket anywhere.

One handler object per connection, driven by whichever engine accepted it. The engine calls:

* ``connected()`` once, right after accept;
* ``received(data)`` for every chunk read (any size: the handler frames it);
* ``ended()`` when the client half-closes (EOF): the handler flushes and asks to close;
* ``closing(reason)`` when the *server* ends the connection (idle timeout, shutdown): the handler may
  say goodbye first;
* ``lost(reason)`` exactly once when the session is over for any reason (as soon as it is closed, even
  if its socket still has a backlog to write); only chat uses it, to tell the room;
* ``resume()`` while ``pending`` is true, after serving the other connections: the next slice of a burst.

**Bursts are handled in slices.** One ``recv()`` can hold thousands of lines (a paste, a script, a
flood); handling them all in one call would make every other client wait for the whole burst, and in
chat would queue all of its relays for every member at once (so readers that read fine could pass
``--max-queue`` and be dropped). So a call handles at most ``SLICE_MESSAGES`` messages or produces about
``SLICE_ACTIONS`` actions; the rest stays framed in the handler, ``pending`` says so, and the engine calls
``resume()`` once it has served the others (and reads no more from that client meanwhile). A slice's
sends to one connection are joined into one write (``actions.coalesce``).

Each returns a list of ``Send`` / ``Close`` actions for the engine to perform in order. The engine logs
``recv`` / ``send`` / ``close`` itself, so handlers stay about the protocol only.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from netdiag.core.protocols.actions import Action, Close, CloseReason, Send, coalesce
from netdiag.core.protocols.framing import DEFAULT_MAX_LINE, MessageFramer

GREETING = b"You are connected"
ACCEPTED = b"accepted"
CLOSED = b"closed"
CLOSE_COMMAND = b"close"
SLICE_MESSAGES = 64
"""Most messages handled in one call: a burst of lines is handled this many at a time."""
SLICE_ACTIONS = 512
"""A slice also ends once its messages produced this many actions (a chat line is one per member)."""


class ConnectionHandler(Protocol):
    """What every engine drives (see the module docstring for when each method is called)."""

    def connected(self) -> list[Action]: ...

    def received(self, data: bytes) -> list[Action]: ...

    def ended(self) -> list[Action]: ...

    def closing(self, reason: CloseReason) -> list[Action]: ...

    def lost(self, reason: CloseReason) -> list[Action]: ...

    @property
    def pending(self) -> bool:
        """Messages received but not handled yet: call ``resume()`` (after serving the others)."""
        ...

    def resume(self) -> list[Action]: ...


def too_long_notice(max_line: int) -> bytes:
    """What a client that sent an over-long message is told before it is disconnected."""
    return f"error: message longer than {max_line} bytes, closing the connection\n".encode()


def refusal_notice(max_clients: int) -> bytes:
    """What a client is told when the server already holds ``--max-clients`` connections."""
    clients = "1 client" if max_clients == 1 else f"{max_clients} clients"
    return f"server busy: {clients} connected already (--max-clients), try again later\n".encode()


def shutting_down_notice() -> bytes:
    """What a client is told when it connects while the server is stopping (SIGINT/SIGTERM)."""
    return b"server shutting down: not accepting connections\n"


def thread_limit_notice() -> bytes:
    """What a client is told when the thread engine cannot start a thread for it (the system's limit)."""
    return b"server busy: no thread can be started for another client now, try again later\n"


def idle_notice(idle_timeout: float) -> bytes:
    return f"idle for {idle_timeout:g} s, closing the connection\n".encode()


class _Quiet:
    """Defaults: nothing on connect, close on EOF, no goodbye, nothing to tell anyone when lost."""

    def connected(self) -> list[Action]:
        return []

    def ended(self) -> list[Action]:
        return [Close(CloseReason.EOF)]

    def closing(self, reason: CloseReason) -> list[Action]:
        return [Close(reason)]

    def lost(self, reason: CloseReason) -> list[Action]:
        return []

    @property
    def pending(self) -> bool:
        return False

    def resume(self) -> list[Action]:
        return []


class EchoHandler(_Quiet):
    """Every byte back, unframed: byte-exact whatever the chunking (pending replies go out after EOF)."""

    __slots__ = ()

    def received(self, data: bytes) -> list[Action]:
        return [Send(data)]


class SinkHandler(_Quiet):
    """Reads and discards (the engine's log shows what arrived); never answers."""

    __slots__ = ()

    def received(self, data: bytes) -> list[Action]:
        return []


class _Framed(_Quiet):
    """Base of the message-based modes: frames input, enforces the size limit, handles end of stream,
    and works through a burst a slice at a time (module docstring)."""

    def __init__(self, *, max_line: int = DEFAULT_MAX_LINE, idle_timeout: float | None = None) -> None:
        self.framer = MessageFramer(max_line=max_line)
        self.idle_timeout = idle_timeout
        self.done = False
        self.backlog: deque[bytes] = deque()
        self.epilogue: list[Action] = []  # what follows the backlog: the too-long notice, or the EOF close

    @property
    def pending(self) -> bool:
        return bool(self.backlog) and not self.done

    def received(self, data: bytes) -> list[Action]:
        if self.done or self.epilogue:
            return []
        framed = self.framer.feed(data)
        self.backlog += framed.messages
        if framed.too_long:
            self.epilogue = [Send(too_long_notice(self.framer.max_line)), Close(CloseReason.LINE_TOO_LONG)]
        return self.resume()

    def ended(self) -> list[Action]:
        if self.done:
            return [Close(CloseReason.EOF)]
        if not self.epilogue:  # else the client is cut off for a too-long line anyway
            self.backlog += self.framer.finish()
            self.epilogue = [Close(CloseReason.EOF)]
        return self.resume()

    def resume(self) -> list[Action]:
        """Handle the next slice of what was received (all of it, if it is small)."""
        actions: list[Action] = []
        handled = 0
        backlog = self.backlog
        while backlog and not self.done and handled < SLICE_MESSAGES and len(actions) < SLICE_ACTIONS:
            actions += self.message(backlog.popleft())
            handled += 1
        if self.done:
            backlog.clear()
            self.epilogue = []
        elif not backlog and self.epilogue:
            self.done = True
            actions += self.epilogue
            self.epilogue = []
        return coalesce(actions) if handled > 1 else actions

    def closing(self, reason: CloseReason) -> list[Action]:
        self.done = True
        if reason is CloseReason.IDLE_TIMEOUT and self.idle_timeout is not None:
            return [Send(idle_notice(self.idle_timeout)), Close(reason)]
        return [Close(reason)]

    def message(self, message: bytes) -> list[Action]:
        raise NotImplementedError


class ReplyHandler(_Framed):
    """``accepted`` for each message; ``close`` (any case, whitespace ignored) gets ``closed`` and ends."""

    def message(self, message: bytes) -> list[Action]:
        newline = self.framer.newline
        if message.strip().lower() == CLOSE_COMMAND:
            self.done = True
            return [Send(CLOSED + newline), Close(CloseReason.QUIT)]
        return [Send(ACCEPTED + newline)]


class GreetHandler(_Framed):
    """Greets on connect, reads one message (the log prints it), then closes; the server keeps going."""

    def connected(self) -> list[Action]:
        return [Send(GREETING)]

    def message(self, message: bytes) -> list[Action]:
        self.done = True
        return [Close(CloseReason.GREETED)]
