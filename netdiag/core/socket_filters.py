"""Which sockets a user asked for: the ``netdiag sockets`` filters, combined with AND.

Pure, so every combination is tested without a socket. Words follow ss: ``-l`` means "waiting for
someone", which is ``LISTEN`` for TCP and an unconnected (``UNCONN``) socket for UDP, as ``ss -l`` shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import NamedTuple

from netdiag.core.failures import UsageError
from netdiag.core.sockets import SocketRow, SocketState, parse_state, state_words

LISTENING_STATES = frozenset({SocketState.LISTEN.value, SocketState.UNCONN.value})


class SocketFilter(NamedTuple):
    """The filters of one listing; an empty field means "any". Every set field must match (AND).

    A named tuple rather than a dataclass: a dataclass's generated methods cost every ``netdiag sockets``
    0.4 ms of start-up."""

    protos: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()
    listening: bool = False
    port: int | None = None
    states: frozenset[str] = frozenset()
    pid: int | None = None
    process: str | None = None

    def matches(self, row: SocketRow) -> bool:
        return (
            (not self.protos or row.proto in self.protos)
            and (not self.families or row.family in self.families)
            and (not self.listening or row.state in LISTENING_STATES)
            and (self.port is None or self.port in (row.local_port, row.remote_port))
            and (not self.states or row.state in self.states)
            and (self.pid is None or row.pid == self.pid)
            and (self.process is None or _name_matches(self.process, row.process))
        )

    def apply(self, rows: Iterable[SocketRow]) -> list[SocketRow]:
        if self == _NO_FILTER:  # the plain listing: no test per row
            return list(rows)
        return [row for row in rows if self.matches(row)]

    def describe(self) -> str:
        """The filters in words, for "no socket matches ..." messages."""
        parts = []
        if self.protos:
            parts.append("/".join(p.upper() for p in sorted(self.protos)))
        if self.families:
            parts.append("/".join(f.replace("ip", "IP") for f in sorted(self.families)))
        if self.listening:
            parts.append("listening")
        if self.port is not None:
            parts.append(f"port {self.port}")
        if self.states:
            parts.append("state " + ",".join(sorted(self.states)))
        if self.pid is not None:
            parts.append(f"pid {self.pid}")
        if self.process is not None:
            parts.append(f"process {self.process}")
        return ", ".join(parts) or "no filter"


_NO_FILTER = SocketFilter()


def _name_matches(pattern: str, name: str | None) -> bool:
    """Case-insensitive; shell wildcards (``python*``) allowed, otherwise the whole name must match."""
    return name is not None and fnmatchcase(name.lower(), pattern.lower())


def parse_states(text: str) -> frozenset[str]:
    """``--state estab,time-wait`` -> {"ESTABLISHED", "TIME_WAIT"}; any ss, netstat or psutil spelling."""
    states = set()
    for word in (w for w in text.split(",") if w.strip()):
        state = parse_state(word)
        if state is None or state is SocketState.UNKNOWN:
            raise UsageError(
                f"Unknown socket state {word.strip()!r}. Use one or more of "
                f"{', '.join(state_words())} (ss spellings like ESTAB or time-wait work too)."
            )
        states.add(state.value)
    if not states:
        raise UsageError("--state needs at least one state, for example --state LISTEN,ESTABLISHED.")
    return frozenset(states)


def kinds_for(*, tcp: bool, udp: bool, unix: bool) -> tuple[str, ...]:
    """The socket kinds to list: TCP and UDP unless one is asked for; Unix ones only with ``--unix``."""
    kinds = [k for k, wanted in (("tcp", tcp), ("udp", udp)) if wanted] or ["tcp", "udp"]
    if unix:
        kinds.append("unix")
    return tuple(kinds)
