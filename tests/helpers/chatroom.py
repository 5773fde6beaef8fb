"""A chat room driven without sockets, for the protocol tests: every session joined in order, and what
each connection was sent collected per connection id."""

from __future__ import annotations

from netdiag.core.protocols.actions import Action, CloseReason, Send
from netdiag.core.protocols.chat import ChatRoom, ChatSession


class Room:
    """A room with sessions joined in order; ``inbox`` collects what each connection id was sent."""

    def __init__(self, count: int) -> None:
        self.room = ChatRoom()
        self.sessions = {n: self.room.session(n, f"127.0.0.1:{40000 + n}") for n in range(1, count + 1)}
        self.inbox: dict[int, list[bytes]] = {n: [] for n in self.sessions}
        self.closed: dict[int, CloseReason] = {}
        for n, session in self.sessions.items():
            self.apply(n, session.connected())
        self.clear()

    def apply(self, origin: int, actions: list[Action]) -> None:
        for action in actions:
            target = origin if action.to is None else action.to
            if isinstance(action, Send):
                self.inbox[target].append(action.data)
            else:
                self.closed[target] = action.reason

    def say(self, n: int, data: bytes) -> None:
        self.apply(n, self.sessions[n].received(data))

    def lose(self, n: int, reason: CloseReason) -> None:
        self.apply(n, self.sessions[n].lost(reason))

    def clear(self) -> None:
        for box in self.inbox.values():
            box.clear()

    def session(self, n: int) -> ChatSession:
        return self.sessions[n]
