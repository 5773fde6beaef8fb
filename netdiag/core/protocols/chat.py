"""The chat room (``--mode chat``), sans-I/O: one ``ChatRoom`` per server, one ``ChatSession`` per client.

Like ``ncat --chat``: each line a client sends goes to every *other* client as ``NAME: text``; joins and
leaves are announced with a leading ``*``. Commands: ``/nick NAME`` (rename), ``/who`` (list the room),
``/quit`` (leave). Names are unique in the room, default names too, compared as ``names.py`` says
(case, Unicode compatibility forms and look-alike letters ignored): a ``/nick`` that would clash is
refused with the name it clashes with, and a newcomer whose default name (``user7``) was taken with
``/nick`` gets the next free one (``user7-2``). Framing follows ``framing.py``, so lab clients (one
message per send, no newline) and ``nc``/``telnet`` (lines) can talk in the same room. What is relayed
is cleaned first (``text.clean_for_relay``): no terminal escape sequences or control characters reach
other clients.

Sessions address each other by connection id; the engine maps ids to transports, keeps a bounded send
queue per client and drops a client that cannot keep up (then calls ``lost(SLOW_READER)``, which tells the
room). Nothing here blocks, so one slow reader never delays the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netdiag.core.protocols.actions import Action, Close, CloseReason, Send
from netdiag.core.protocols.framing import DEFAULT_MAX_LINE
from netdiag.core.protocols.handlers import _Framed
from netdiag.core.protocols.names import NAME_RULE, canonical_name, spelling, valid_name
from netdiag.core.protocols.text import clean_for_relay

HELP_TEXT = "commands: /nick NAME, /who, /quit"

_LEAVE_WORDS: dict[CloseReason, str] = {
    CloseReason.SLOW_READER: "was dropped (too slow to read the room)",
    CloseReason.IDLE_TIMEOUT: "was disconnected (idle)",
    CloseReason.LINE_TOO_LONG: "was disconnected (line too long)",
    CloseReason.RESET: "left (connection reset)",
    CloseReason.QUIT: "left",
    CloseReason.EOF: "left",
}


@dataclass
class ChatRoom:
    """Who is in the room: connection id -> name (joined order kept for ``/who``), and who holds each
    canonical name (``names.canonical_name``), so that no two members go by names that look the same."""

    members: dict[int, str] = field(default_factory=dict)
    holders: dict[str, int] = field(default_factory=dict)

    def others(self, conn_id: int) -> list[int]:
        return [other for other in self.members if other != conn_id]

    def tell_others(self, conn_id: int, line: str) -> list[Action]:
        data = (line + "\n").encode()
        return [Send(data, to=other) for other in self.others(conn_id)]

    def holder(self, name: str) -> int | None:
        """The member whose name is the same as ``name`` once compared canonically, if any."""
        return self.holders.get(canonical_name(name))

    def name_taken(self, name: str) -> bool:
        return self.holder(name) is not None

    def take_name(self, conn_id: int, name: str) -> None:
        """Give ``name`` to ``conn_id`` (free or already its own), releasing the name it had."""
        self.release_name(conn_id)
        self.members[conn_id] = name
        self.holders[canonical_name(name)] = conn_id

    def release_name(self, conn_id: int) -> None:
        old = self.members.get(conn_id)
        if old is not None and self.holders.get(canonical_name(old)) == conn_id:
            del self.holders[canonical_name(old)]

    def leave(self, conn_id: int) -> None:
        self.release_name(conn_id)
        del self.members[conn_id]

    def default_name(self, conn_id: int) -> str:
        """``user<id>``, or if a member took it with ``/nick``, the first free ``user<id>-2``, ``-3``, ..."""
        name, suffix = f"user{conn_id}", 1
        while self.name_taken(name):
            suffix += 1
            name = f"user{conn_id}-{suffix}"
        return name

    def session(self, conn_id: int, peer: str, *, max_line: int = DEFAULT_MAX_LINE,
                idle_timeout: float | None = None) -> ChatSession:
        return ChatSession(self, conn_id, peer, max_line=max_line, idle_timeout=idle_timeout)


class ChatSession(_Framed):
    """One client in the room."""

    def __init__(self, room: ChatRoom, conn_id: int, peer: str, *, max_line: int = DEFAULT_MAX_LINE,
                 idle_timeout: float | None = None) -> None:
        super().__init__(max_line=max_line, idle_timeout=idle_timeout)
        self.room, self.conn_id, self.peer = room, conn_id, peer
        self.name = f"user{conn_id}"

    @property
    def joined(self) -> bool:
        return self.conn_id in self.room.members

    def connected(self) -> list[Action]:
        self.name = self.room.default_name(self.conn_id)
        self.room.take_name(self.conn_id, self.name)
        count = len(self.room.members)
        welcome = f"* welcome {self.name}, {count} here; {HELP_TEXT}\n".encode()
        return [Send(welcome), *self.room.tell_others(self.conn_id, f"* {self.name} joined from {self.peer}")]

    def message(self, message: bytes) -> list[Action]:
        text = clean_for_relay(message).strip()
        if not text:
            return []
        if text.startswith("/"):
            return self.command(text)
        return self.room.tell_others(self.conn_id, f"{self.name}: {text}")

    def command(self, text: str) -> list[Action]:
        verb, _, argument = text.partition(" ")
        verb = verb.lower()
        if verb == "/quit":
            self.done = True
            return [Send(b"* bye\n"), Close(CloseReason.QUIT)]
        if verb == "/who":
            names = ", ".join(self.room.members.values())
            return [Send(f"* {len(self.room.members)} here: {names}\n".encode())]
        if verb == "/nick":
            return self.rename(argument.strip())
        return [Send(f"* unknown command {verb}; {HELP_TEXT}\n".encode())]

    def rename(self, name: str) -> list[Action]:
        name = spelling(name)
        if not valid_name(name):
            return [Send(f"* {NAME_RULE}\n".encode())]
        holder = self.room.holder(name)
        if holder is not None and holder != self.conn_id:
            taken = self.room.members[holder]
            why = "" if name == taken else f": it reads the same as {taken}, who is here"
            return [Send(f"* the name {name} is taken{why}; pick another with /nick NAME\n".encode())]
        if name == self.name:
            return [Send(f"* you are {name} already\n".encode())]
        old, self.name = self.name, name
        self.room.take_name(self.conn_id, name)
        return [Send(f"* you are now {name}\n".encode()),
                *self.room.tell_others(self.conn_id, f"* {old} is now {name}")]

    def closing(self, reason: CloseReason) -> list[Action]:
        if reason is CloseReason.SHUTDOWN:
            self.done = True
            return [Send(b"* server shutting down, goodbye\n"), Close(reason)]
        return super().closing(reason)

    def lost(self, reason: CloseReason) -> list[Action]:
        if not self.joined:
            return []
        self.room.leave(self.conn_id)
        if reason is CloseReason.SHUTDOWN:
            return []
        words = _LEAVE_WORDS.get(reason, "left")
        return self.room.tell_others(self.conn_id, f"* {self.name} {words}")
