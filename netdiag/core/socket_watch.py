"""What changed between two listings: the marks of ``netdiag sockets --watch``.

A socket has no identity a listing can show (psutil gives no inode), so two rows are the same socket when
protocol, family and both endpoints agree. Rows sharing those (unnamed Unix sockets, SO_REUSEPORT
listeners) are paired greedily: same state and pid first, then same state, then anything, and what is left
over appeared or went away. The owner is not part of the identity because it legitimately disappears:
ESTABLISHED with a pid becomes TIME_WAIT without one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from netdiag.core.sockets import SocketRow

SocketKey = tuple[str, str, str, int | None, str | None, int | None]


class Change(str, Enum):
    """How a socket differs from the previous refresh."""

    SAME = "same"
    APPEARED = "appeared"
    STATE = "state"
    GONE = "gone"


@dataclass(frozen=True)
class SocketChange:
    """One row of a watch frame; ``previous_state`` is set for ``Change.STATE``."""

    change: Change
    row: SocketRow
    previous_state: str | None = None


@dataclass(frozen=True)
class WatchDelta:
    """Every row of the new listing with its mark, then the rows that went away."""

    changes: list[SocketChange]

    def count(self, change: Change) -> int:
        return sum(1 for c in self.changes if c.change is change)

    @property
    def quiet(self) -> bool:
        return all(c.change is Change.SAME for c in self.changes)


def socket_key(row: SocketRow) -> SocketKey:
    return (row.proto, row.family, row.local_address, row.local_port, row.remote_address, row.remote_port)


_PAIRINGS: tuple[Callable[[SocketRow, SocketRow], bool], ...] = (
    lambda old, new: old.state == new.state and old.pid == new.pid,
    lambda old, new: old.state == new.state,
    lambda old, new: True,
)


def diff_listings(before: Sequence[SocketRow] | None, after: Sequence[SocketRow]) -> WatchDelta:
    """Mark each row of ``after`` against ``before``; None (the first refresh) marks nothing."""
    if before is None:
        return WatchDelta([SocketChange(Change.SAME, row) for row in after])
    unmatched: dict[SocketKey, list[SocketRow]] = defaultdict(list)
    for row in before:
        unmatched[socket_key(row)].append(row)
    matched: dict[int, SocketRow] = {}
    for pairs in _PAIRINGS:
        for index, row in enumerate(after):
            if index in matched:
                continue
            candidates = unmatched.get(socket_key(row), [])
            for old in candidates:
                if pairs(old, row):
                    matched[index] = old
                    candidates.remove(old)
                    break
    changes = []
    for index, row in enumerate(after):
        previous = matched.get(index)
        if previous is None:
            changes.append(SocketChange(Change.APPEARED, row))
        elif previous.state != row.state:
            changes.append(SocketChange(Change.STATE, row, previous_state=previous.state))
        else:
            changes.append(SocketChange(Change.SAME, row))
    changes.extend(SocketChange(Change.GONE, gone) for rows in unmatched.values() for gone in rows)
    return WatchDelta(changes)
