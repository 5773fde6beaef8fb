"""Socket rows as ``ss`` shows them: the shared data type of ``sockets``, ``explain`` and the tour.

A row is one kernel socket seen from this machine. The adapters (psutil everywhere, netlink sock_diag on
Linux) fill rows; everything here is pure so filters, summaries and the ``--watch`` diff can be tested
without a socket. State words follow ``ss`` (``LISTEN``, ``TIME_WAIT``, ``UNCONN`` ...) with ``-``
written ``_`` and one exception: ``ESTAB`` is written ``ESTABLISHED``, the word the lab's ``netstat``
uses and the one students search for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, cast

# The documented, stable JSON keys of ``netdiag sockets --format json`` (docs/sockets.md), in order.
SOCKET_FIELDS: tuple[str, ...] = (
    "proto", "family", "local_address", "local_port", "remote_address", "remote_port", "state", "pid",
    "process",
)


class SocketState(str, Enum):
    """Socket states in ss's words (``-`` written ``_``; ``ESTAB`` written ``ESTABLISHED``)."""

    ESTABLISHED = "ESTABLISHED"
    SYN_SENT = "SYN_SENT"
    SYN_RECV = "SYN_RECV"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    TIME_WAIT = "TIME_WAIT"
    UNCONN = "UNCONN"
    CLOSE_WAIT = "CLOSE_WAIT"
    LAST_ACK = "LAST_ACK"
    LISTEN = "LISTEN"
    CLOSING = "CLOSING"
    UNKNOWN = "UNKNOWN"


# Linux's TCP state numbers (include/net/tcp_states.h), as /proc/net/tcp and sock_diag report them.
# TCP_CLOSE (7) is what ss calls UNCONN; TCP_NEW_SYN_RECV (12) is a request socket ss shows as SYN-RECV.
KERNEL_TCP_STATES: dict[int, SocketState] = {
    1: SocketState.ESTABLISHED,
    2: SocketState.SYN_SENT,
    3: SocketState.SYN_RECV,
    4: SocketState.FIN_WAIT_1,
    5: SocketState.FIN_WAIT_2,
    6: SocketState.TIME_WAIT,
    7: SocketState.UNCONN,
    8: SocketState.CLOSE_WAIT,
    9: SocketState.LAST_ACK,
    10: SocketState.LISTEN,
    11: SocketState.CLOSING,
    12: SocketState.SYN_RECV,
}

# psutil's status strings (psutil.CONN_*) in our words.
PSUTIL_STATES: dict[str, SocketState] = {
    "ESTABLISHED": SocketState.ESTABLISHED,
    "SYN_SENT": SocketState.SYN_SENT,
    "SYN_RECV": SocketState.SYN_RECV,
    "FIN_WAIT1": SocketState.FIN_WAIT_1,
    "FIN_WAIT2": SocketState.FIN_WAIT_2,
    "TIME_WAIT": SocketState.TIME_WAIT,
    "CLOSE": SocketState.UNCONN,
    "CLOSE_WAIT": SocketState.CLOSE_WAIT,
    "LAST_ACK": SocketState.LAST_ACK,
    "LISTEN": SocketState.LISTEN,
    "CLOSING": SocketState.CLOSING,
    "BOUND": SocketState.UNCONN,  # Solaris/AIX wording
    "IDLE": SocketState.UNCONN,
}

# Every spelling a user (or ss, netstat, psutil) may use for a state, lower case, ``-`` as ``_``.
_STATE_ALIASES: dict[str, SocketState] = {
    **{state.value.lower(): state for state in SocketState},
    **{name.lower(): state for name, state in PSUTIL_STATES.items()},
    "estab": SocketState.ESTABLISHED,
    "syn_recv": SocketState.SYN_RECV,
    "syn_received": SocketState.SYN_RECV,
    "listening": SocketState.LISTEN,
    "close": SocketState.UNCONN,
    "closed": SocketState.UNCONN,
    "unconnected": SocketState.UNCONN,
}


def parse_state(word: str) -> SocketState | None:
    """The state a word names in any common spelling (``estab``, ``TIME-WAIT``, ``fin_wait1``), or None."""
    return _STATE_ALIASES.get(word.strip().lower().replace("-", "_"))


def state_words() -> list[str]:
    """The state words users can type, for help and error messages."""
    return [s.value for s in SocketState if s is not SocketState.UNKNOWN]


@dataclass(frozen=True, slots=True, init=False)  # slots: half the construction time and memory at 20,000 rows
class SocketRow:
    """One socket; field names are the documented, stable JSON keys of ``netdiag sockets``.

    ``state`` uses ss's words (``LISTEN``, ``ESTAB`` is written ``ESTABLISHED``, ``TIME_WAIT`` ...; UDP
    sockets are ``UNCONN`` unless connected). ``pid``/``process`` are None when the owner is unknown
    (another user's process without privileges, or a socket with no owner such as TIME_WAIT).
    """

    proto: str  # "tcp", "udp", "unix"
    family: str  # "ipv4", "ipv6", "unix"
    local_address: str
    local_port: int | None
    remote_address: str | None
    remote_port: int | None
    state: str
    pid: int | None
    process: str | None

    def __init__(self, proto: str, family: str, local_address: str, local_port: int | None,
                 remote_address: str | None, remote_port: int | None, state: str, pid: int | None,
                 process: str | None) -> None:
        """What dataclass would write for a frozen class, with each field stored by its slot's own
        setter (bound once below) instead of a lookup of ``object.__setattr__`` per field: 40% less time
        for a listing's 20,000 rows. Frozen all the same: assigning a field afterwards still raises."""
        _set_proto(self, proto)
        _set_family(self, family)
        _set_local_address(self, local_address)
        _set_local_port(self, local_port)
        _set_remote_address(self, remote_address)
        _set_remote_port(self, remote_port)
        _set_state(self, state)
        _set_pid(self, pid)
        _set_process(self, process)


# The slot setters SocketRow.__init__ uses (the class dataclass made: slots=True builds a new one).
_SLOTS = vars(SocketRow)
_set_proto = _SLOTS["proto"].__set__
_set_family = _SLOTS["family"].__set__
_set_local_address = _SLOTS["local_address"].__set__
_set_local_port = _SLOTS["local_port"].__set__
_set_remote_address = _SLOTS["remote_address"].__set__
_set_remote_port = _SLOTS["remote_port"].__set__
_set_state = _SLOTS["state"].__set__
_set_pid = _SLOTS["pid"].__set__
_set_process = _SLOTS["process"].__set__


class _RowDraft:
    """A SocketRow in the making, for listings of thousands of sockets (``new_socket_row``).

    It has SocketRow's slots, so Python lets the object become a SocketRow by ``__class__`` assignment
    (allowed between classes of the same layout): the fields are stored by plain attribute assignment,
    which the frozen class refuses, then the object turns into the frozen row, equal in every way to
    ``SocketRow(...)`` (tests/core/test_sockets.py). Twice as fast as SocketRow's own ``__init__``.
    """

    __slots__ = SocketRow.__slots__  # made by dataclass(slots=True)

    def __init__(self, proto: str, family: str, local_address: str, local_port: int | None,
                 remote_address: str | None, remote_port: int | None, state: str, pid: int | None,
                 process: str | None) -> None:
        self.proto = proto
        self.family = family
        self.local_address = local_address
        self.local_port = local_port
        self.remote_address = remote_address
        self.remote_port = remote_port
        self.state = state
        self.pid = pid
        self.process = process
        self.__class__ = SocketRow  # type: ignore[assignment]


new_socket_row = cast(
    "Callable[[str, str, str, int | None, str | None, int | None, str, int | None, str | None], SocketRow]",
    _RowDraft,
)
"""``SocketRow(...)`` with positional fields, twice as fast (see ``_RowDraft``): for the listers' loops."""


class SocketListing(NamedTuple):
    """What a listing found, and whether it is everything.

    ``complete`` is False when the OS hid something (owners of other users' sockets without root, or only
    the user's own processes on macOS); ``note`` says what is missing and how to see it. A named tuple
    rather than a dataclass: a dataclass's generated methods cost every listing's start-up 0.4 ms.
    """

    rows: list[SocketRow]
    complete: bool = True
    note: str | None = None


# Sockets that legitimately have no owning process: the kernel keeps them after close().
OWNERLESS_STATES = frozenset({SocketState.TIME_WAIT.value})


def udp_state(remote_address: str | None) -> SocketState:
    """UDP has no states; ss calls a connected UDP socket ESTAB and any other UNCONN."""
    return SocketState.ESTABLISHED if remote_address else SocketState.UNCONN


def sort_key(row: SocketRow) -> tuple[Any, ...]:
    """A stable, readable order: protocol, then local port, address, peer."""
    return (row.proto, row.local_port or 0, row.family, row.local_address, row.remote_address or "",
            row.remote_port or 0, row.pid or 0)


def sorted_rows(rows: Iterable[SocketRow]) -> list[SocketRow]:
    return sorted(rows, key=sort_key)


def unowned_count(rows: Iterable[SocketRow]) -> int:
    """Rows whose owner is unknown although they should have one (not TIME_WAIT)."""
    return sum(1 for row in rows if row.pid is None and row.state not in OWNERLESS_STATES)
