"""Opening the listening socket, and explaining why it could not be opened.

Bind errors become ``NetworkFailure`` / ``PrivilegeError`` with the catalog's explanation plus what this
machine says about the port: which process holds it (psutil), or that only TIME_WAIT leftovers do.
Also: raising the open-files limit, and the addresses other machines should use for a wildcard bind.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import replace

from netdiag.adapters import platform
from netdiag.adapters.net.resolve import lookup
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.error_causes import classify_exception
from netdiag.core.failures import NetworkFailure, PrivilegeError, ResolveFailure
from netdiag.core.targets import format_endpoint, is_ipv6_literal

from .settings import BACKLOG

WILDCARDS = ("0.0.0.0", "::", "")


def open_listener(host: str, port: int, *, udp: bool = False) -> socket.socket:
    """A bound (and, for TCP, listening) socket; bind errors are explained, never traced back."""
    family, address = resolve_bind_host(host)
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    sock = socket.socket(family, kind)
    try:
        if not udp:
            sock.setsockopt(socket.SOL_SOCKET, platform.listener_bind_option(), 1)  # Windows: exclusive
        if family == socket.AF_INET6 and address == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" serves IPv4 too
        sock.bind((address, port))
        if not udp:
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise bind_failure(exc, address, port, udp=udp) from exc
    return sock


def resolve_bind_host(host: str) -> tuple[socket.AddressFamily, str]:
    """The family and address to bind: IP literals as given, a name (``localhost``) by resolving it."""
    if host == "":
        return socket.AF_INET, "0.0.0.0"
    if is_ipv6_literal(host):
        return socket.AF_INET6, host
    try:
        socket.inet_pton(socket.AF_INET, host)
        return socket.AF_INET, host
    except OSError:
        pass
    try:
        infos = lookup(host, flags=socket.AI_PASSIVE)
    except ResolveFailure as failure:
        raise NetworkFailure(f"Cannot listen on {host}: the name does not resolve to an address "
                             f"({failure.reason}).", explanation=failure.explanation, errno=failure.errno,
                             host=host) from failure
    family, *_, sockaddr = infos[0]
    return family, str(sockaddr[0])


def bind_failure(exc: OSError, host: str, port: int, *, udp: bool) -> NetworkFailure | PrivilegeError:
    """The explained failure for a bind error (the catalog gives the words, this machine the facts)."""
    cause = classify_exception(exc, "bind", port=port)
    explanation = explanation_for(cause, port=port)
    if cause is Cause.ADDRESS_IN_USE:  # what this machine says about the port, after the catalog's words
        holder = describe_port_holders(port, udp=udp)
        explanation = replace(explanation, meaning=f"{explanation.meaning} {holder}")

    def failed(kind: type[NetworkFailure | PrivilegeError], why: str) -> NetworkFailure | PrivilegeError:
        where = f"{'UDP' if udp else 'TCP'} {format_endpoint(host, port)}"
        return kind(f"Cannot listen on {where}: {why}", explanation=explanation, errno=exc.errno, host=host,
                    port=port)

    if cause is Cause.PRIVILEGED_PORT:
        return failed(PrivilegeError, "ports below 1024 need root.")
    if cause is Cause.ADDRESS_IN_USE:
        return failed(NetworkFailure, "the address is already in use.")
    if cause is Cause.ADDRESS_NOT_LOCAL:
        return failed(NetworkFailure, f"{host} is not an address of this machine.")
    if exc.errno == errno.EACCES:
        return failed(PrivilegeError, f"permission denied ({exc.strerror}).")
    return failed(NetworkFailure, f"{exc.strerror or exc}.")


def describe_port_holders(port: int, *, udp: bool) -> str:
    """Who holds ``port`` here: a live listener (named), only TIME_WAIT leftovers, or nobody visible."""
    import psutil

    kind = "udp" if udp else "tcp"
    try:
        connections = psutil.net_connections(kind=kind)
    except psutil.AccessDenied:
        return f"This user may not list other users' sockets; run: sudo netdiag sockets --port {port}"
    mine = [c for c in connections if c.laddr and c.laddr.port == port]
    holders = [c for c in mine if udp or c.status in (psutil.CONN_LISTEN, psutil.CONN_NONE)]
    if holders:
        return "It is held by " + ", ".join(_process_of(c.pid) for c in holders[:3]) + "."
    states = sorted({c.status for c in mine})
    if states == [psutil.CONN_TIME_WAIT]:
        return ("No process listens there: only TIME_WAIT leftovers of closed connections remain; "
                "they expire within a minute.")
    if mine:
        return f"Sockets in state {', '.join(states)} use it (no listener)."
    return "No socket visible to this user holds it (another network namespace or container?)."


def _process_of(pid: int | None) -> str:
    import psutil

    if pid is None:
        return "a process this user cannot see (try with sudo)"
    try:
        return f"{psutil.Process(pid).name()} (pid {pid})"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return f"pid {pid}"


NO_FILES_LIMIT = 1 << 20
"""What a platform without RLIMIT_NOFILE (Windows: sockets are no CRT files), or unlimited, counts as."""


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (each connection is a file); return both."""
    limits = platform.raise_open_files_limit() or (-1, -1)
    soft, hard = (NO_FILES_LIMIT if value == -1 else value for value in limits)
    return soft, hard


def addresses_for_others(host: str) -> list[tuple[str, str]]:
    """For a wildcard bind: (address, interface) pairs other machines can use (loopback left out)."""
    if host not in WILDCARDS:
        return []
    import psutil

    want = {socket.AF_INET} if host == "0.0.0.0" else {socket.AF_INET, socket.AF_INET6}
    found: list[tuple[str, str]] = []
    for name, addrs in psutil.net_if_addrs().items():
        for addr in addrs:
            if addr.family in want and not addr.address.startswith(("127.", "::1", "fe80")):
                found.append((addr.address, name))
    return found
