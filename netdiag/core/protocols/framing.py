"""Where one message ends: the framing rule that lets lab clients and line clients share a server.

The lab's clients call ``send()`` once per message, with no newline, and wait for the answer; ``nc`` and
``telnet`` end each message with ``\\n`` or ``\\r\\n``. The framer decides per connection:

* Until a connection has sent a newline it is a *lab client*: each chunk received is one whole message
  (the client waits for our answer, so its messages are never glued together).
* From its first newline on it is a *line client*: messages end at ``\\n`` (a ``\\r`` before it is
  dropped), and a partial line is kept until the rest arrives.

A lab message is small: the lab's own server reads it with ``recv(1024)``. A chunk with no newline that
is bigger than ``LAB_MESSAGE_MAX`` is therefore not a lab message but the first part of a long line being
streamed (``nc`` pasting a megabyte): it starts a line, so the size limit applies to the whole line,
whatever pieces the kernel cut it into.

A message (or an unfinished line) longer than ``max_line`` bytes is refused: the framer reports it and
the handler tells the client and closes, so one client cannot make the server buffer without bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netdiag.core.protocols.options import DEFAULT_MAX_LINE

__all__ = ["DEFAULT_MAX_LINE", "LAB_MESSAGE_MAX", "Framed", "MessageFramer"]

LAB_MESSAGE_MAX = 16 * 1024
"""Largest chunk without a newline still taken as one lab message (16x what the lab's server reads)."""


@dataclass(frozen=True, slots=True)
class Framed:
    """The result of feeding bytes: the complete messages, and whether the size limit was passed."""

    messages: list[bytes]
    too_long: bool = False


@dataclass(slots=True)
class MessageFramer:
    """Per-connection framing state (see the module docstring for the rule)."""

    max_line: int = DEFAULT_MAX_LINE
    line_client: bool = False
    _pending: bytearray = field(default_factory=bytearray)

    @property
    def newline(self) -> bytes:
        """What to end our answers with: a newline for line clients, nothing for lab clients."""
        return b"\n" if self.line_client else b""

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held for this connection."""
        return len(self._pending)

    def feed(self, data: bytes) -> Framed:
        """Add received bytes; return the messages they complete."""
        if not self.line_client and b"\n" not in data:
            if not data:
                return Framed([])
            if len(data) > self.max_line:
                return Framed([], too_long=True)
            if len(data) <= LAB_MESSAGE_MAX:
                return Framed([data])
        self.line_client = True
        self._pending += data
        *lines, rest = self._pending.split(b"\n")
        self._pending = bytearray(rest)
        messages: list[bytes] = []
        for line in lines:
            if len(line) > self.max_line:
                return Framed(messages, too_long=True)
            messages.append(bytes(line[:-1] if line.endswith(b"\r") else line))
        return Framed(messages, too_long=len(rest) > self.max_line)

    def finish(self) -> list[bytes]:
        """At end of stream: an unfinished last line still counts as a message (``printf 'x' | nc``)."""
        if not self._pending:
            return []
        last, self._pending = bytes(self._pending), bytearray()
        return [last[:-1] if last.endswith(b"\r") else last]
