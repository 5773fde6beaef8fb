"""What both listing back-ends share: the socket kinds, and finishing a listing (sorted, with a note
when owners are hidden because we are not root)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from netdiag.adapters import platform
from netdiag.core.sockets import SocketListing, SocketRow, sorted_rows, unowned_count

KINDS = ("tcp", "udp", "unix")


def finish_listing(rows: Iterable[SocketRow], *, ordered: bool = False) -> SocketListing:
    """Sort the rows (``ordered``: they already are) and say whether owners are missing because we are
    not root."""
    ordered_rows = list(rows) if ordered else sorted_rows(rows)
    hidden = unowned_count(ordered_rows)
    if hidden and _is_unprivileged():
        return SocketListing(ordered_rows, complete=False, note=_hidden_owner_note(hidden))
    return SocketListing(ordered_rows)


def check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown socket kinds {unknown}; expected some of {KINDS}")
    return tuple(kinds)


def _is_unprivileged() -> bool:
    return not platform.is_root() and platform.os_name() != "windows"


def _hidden_owner_note(hidden: int) -> str:
    return (
        f"{hidden} socket{'s' if hidden != 1 else ''} belong to other users' processes: their pid and "
        "process are shown as '-'. Run `sudo netdiag sockets` to see every owner."
    )
