"""The portable listing: ``psutil.net_connections``, or each process's own connections where the OS
refuses the whole table (macOS without root), said in the listing's note rather than raised."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from netdiag.adapters.listing.processes import process_names
from netdiag.adapters.listing.rows import check_kinds, finish_listing
from netdiag.core.sockets import PSUTIL_STATES, SocketListing, SocketRow, SocketState, sorted_rows, udp_state


def list_sockets_psutil(kinds: Sequence[str] = ("tcp", "udp")) -> SocketListing:
    """The portable path: ``psutil.net_connections``, or per-process connections where it is refused."""
    import psutil

    wanted = check_kinds(kinds)
    try:
        connections = psutil.net_connections(kind=_psutil_kind(wanted))
    except psutil.AccessDenied:
        return _own_processes_listing(wanted)
    names = process_names({c.pid for c in connections if c.pid})
    rows = [row for c in connections if (row := _row(c, names, wanted)) is not None]
    return finish_listing(rows)


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
