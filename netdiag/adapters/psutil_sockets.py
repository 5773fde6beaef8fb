"""Every socket of this machine as ``SocketRow``s: psutil everywhere, netlink sock_diag on Linux.

The listing is collected first and resolved second, like psutil's own ``scripts/netstat.py``: one
process-name lookup per pid, never per row. What the OS hides is said, not raised: without root, Linux
lists other users' sockets without their owner (shown as ``-``), and macOS refuses ``net_connections``
altogether, so we fall back to the connections of the processes we may inspect and say so.

``list_sockets`` is the API other commands use (explain, the tour); it never raises for a permission
problem, only for a bug.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from netdiag.adapters import platform
from netdiag.core.sockets import (
    PSUTIL_STATES,
    SocketListing,
    SocketRow,
    SocketState,
    sorted_rows,
    udp_state,
    unowned_count,
)

__all__ = ["ProcessDetails", "SocketListing", "describe_processes", "list_sockets", "list_sockets_psutil"]

KINDS = ("tcp", "udp", "unix")


@dataclass(frozen=True)
class ProcessDetails:
    """What ``--wide`` adds for a pid: the owning user and the full command line."""

    user: str | None
    cmdline: str | None


def list_sockets(kinds: Sequence[str] = ("tcp", "udp"), *, engine: str = "auto") -> SocketListing:
    """Sockets of ``kinds`` ("tcp", "udp", "unix"), sorted, with owners resolved once per pid.

    ``engine`` is ``auto`` (netlink on Linux, psutil elsewhere or when netlink is unavailable),
    ``netlink`` or ``psutil``.
    """
    wanted = _check_kinds(kinds)
    if engine not in ("auto", "netlink", "psutil"):
        raise ValueError(f"unknown engine {engine!r}")
    if engine != "psutil" and platform.has_netlink():
        from netdiag.adapters.sock_diag import list_sockets_netlink

        listing = list_sockets_netlink(wanted)
        if listing is not None:
            return listing
    return list_sockets_psutil(wanted)


def list_sockets_psutil(kinds: Sequence[str] = ("tcp", "udp")) -> SocketListing:
    """The portable path: ``psutil.net_connections``, or per-process connections where it is refused."""
    import psutil

    wanted = _check_kinds(kinds)
    try:
        connections = psutil.net_connections(kind=_psutil_kind(wanted))
    except psutil.AccessDenied:
        return _own_processes_listing(wanted)
    names = process_names({c.pid for c in connections if c.pid})
    rows = [row for c in connections if (row := _row(c, names, wanted)) is not None]
    return finish_listing(rows)


def finish_listing(rows: Iterable[SocketRow], *, ordered: bool = False) -> SocketListing:
    """Sort the rows (``ordered``: they already are) and say whether owners are missing because we are
    not root."""
    ordered_rows = list(rows) if ordered else sorted_rows(rows)
    hidden = unowned_count(ordered_rows)
    if hidden and _is_unprivileged():
        return SocketListing(ordered_rows, complete=False, note=_hidden_owner_note(hidden))
    return SocketListing(ordered_rows)


def process_names(pids: Iterable[int]) -> dict[int, str]:
    """One name lookup per pid (not per socket); processes that vanished or are hidden are left out.

    On Linux the names are read from /proc the way psutil reads them, without importing psutil (tens of
    milliseconds of start-up that the netlink path otherwise never pays).
    """
    if platform.is_linux() and os.path.isdir("/proc/self"):
        return {pid: name for pid in pids if (name := proc_name(pid)) is not None}
    import psutil

    names: dict[int, str] = {}
    for pid in pids:
        try:
            names[pid] = psutil.Process(pid).name()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return names


def proc_name(pid: int) -> str | None:
    """A process's name as ``psutil.Process(pid).name()`` gives it on Linux, or None if it is gone.

    The kernel keeps 15 characters of the name (``comm``, in /proc/PID/stat); like psutil, a name that
    long is completed from the command line when argv[0]'s base name starts with it.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:  # gone, or /proc hides it
        return None
    name = os.fsdecode(data[data.find(b"(") + 1:data.rfind(b")")])
    if len(name) < 15:
        return name
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            arguments = cmdline.read()
    except OSError:
        return name
    first = arguments.split(b"\0", 1)[0] if arguments.endswith(b"\0") else arguments.split(b" ", 1)[0]
    extended = os.path.basename(os.fsdecode(first))
    return extended if first and extended.startswith(name) else name


def describe_processes(pids: Iterable[int]) -> dict[int, ProcessDetails]:
    """User and command line per pid for ``--wide``; whatever the OS hides stays None."""
    import psutil

    details: dict[int, ProcessDetails] = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        details[pid] = ProcessDetails(user=_safe(process.username), cmdline=_safe_cmdline(process))
    return details


def _safe(call: Any) -> str | None:
    import psutil

    try:
        return str(call())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, KeyError):
        return None  # KeyError: a uid with no passwd entry (psutil raises it from pwd)


def _safe_cmdline(process: Any) -> str | None:
    import psutil

    try:
        words = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return " ".join(words) if words else None


def _own_processes_listing(kinds: Sequence[str]) -> SocketListing:
    """macOS without root: ask each process we may inspect for its own connections."""
    import psutil

    rows: list[SocketRow] = []
    refused = 0
    kind = _psutil_kind(kinds)
    for process in psutil.process_iter(["name"]):
        try:
            connections = process.net_connections(kind=kind)
        except (psutil.AccessDenied, psutil.ZombieProcess):
            refused += 1
            continue
        except psutil.NoSuchProcess:
            continue
        names = {process.pid: process.info.get("name") or ""}
        for connection in connections:
            row = _row(connection, names, kinds, pid=process.pid)
            if row is not None:
                rows.append(row)
    note = (
        "This OS lets only root list every socket: shown are the sockets of the processes you may "
        f"inspect ({refused} processes refused). Run `sudo netdiag sockets` to see all of them."
    )
    return SocketListing(sorted_rows(rows), complete=False, note=note)


def _row(connection: Any, names: dict[int, str], kinds: Sequence[str], *,
         pid: int | None = None) -> SocketRow | None:
    """One psutil ``sconn`` (or per-process ``pconn`` with its ``pid``) as a row; None when not wanted."""
    proto = _proto_of(connection)
    if proto is None or proto not in kinds:
        return None
    pid = pid or getattr(connection, "pid", None) or None
    process = names.get(pid) if pid is not None else None
    if proto == "unix":
        local = connection.laddr if isinstance(connection.laddr, str) else ""
        remote = connection.raddr if isinstance(connection.raddr, str) and connection.raddr else None
        return SocketRow("unix", "unix", local, None, remote, None, udp_state(remote).value, pid, process)
    family = "ipv6" if connection.family == socket.AF_INET6 else "ipv4"
    local_address, local_port = (connection.laddr.ip, connection.laddr.port) if connection.laddr else ("", 0)
    remote_address, remote_port = (connection.raddr.ip, connection.raddr.port) if connection.raddr \
        else (None, None)
    if proto == "udp":
        state = udp_state(remote_address)
    else:
        state = PSUTIL_STATES.get(connection.status, SocketState.UNKNOWN)
    return SocketRow(proto, family, local_address, local_port, remote_address, remote_port, state.value,
                     pid, process)


def _proto_of(connection: Any) -> str | None:
    if connection.family == getattr(socket, "AF_UNIX", None):
        return "unix"
    if connection.family not in (socket.AF_INET, socket.AF_INET6):  # AF_UNIX where Python has no name for it
        return None
    if connection.type == socket.SOCK_STREAM:
        return "tcp"
    if connection.type == socket.SOCK_DGRAM:
        return "udp"
    return None


def _psutil_kind(kinds: Sequence[str]) -> str:
    """One psutil kind covering ``kinds`` so /proc is scanned once ("inet" for tcp+udp, "all" for all)."""
    wanted = set(kinds)
    if wanted == {"tcp"} or wanted == {"udp"} or wanted == {"unix"}:
        return next(iter(wanted))
    if "unix" in wanted:
        return "all"
    return "inet"


def _check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
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
