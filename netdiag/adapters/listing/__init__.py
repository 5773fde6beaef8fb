"""Every socket of this machine as ``SocketRow``s (``netdiag sockets``, and the listings of explain and
the tour): netlink sock_diag on Linux (``netlink``), psutil elsewhere (``psutil_backend``).

The listing is collected first and resolved second, like psutil's own ``scripts/netstat.py``: one
process-name lookup per pid, never per row (``processes``). What the OS hides is said, not raised:
without root, Linux lists other users' sockets without their owner (shown as ``-``), and macOS refuses
``net_connections`` altogether, so we fall back to the connections of the processes we may inspect and
say so. ``listeners`` reads only the listening sockets, for the probes that answer a local target from
the socket table.

``list_sockets`` is the front every command uses; it never raises for a permission problem, only for a
bug. Back-ends are imported when chosen, so listing with netlink never loads psutil.
"""

from __future__ import annotations

from collections.abc import Sequence

from netdiag.adapters import platform
from netdiag.adapters.listing.rows import check_kinds
from netdiag.core.sockets import SocketListing

__all__ = ["SocketListing", "list_sockets"]


def list_sockets(kinds: Sequence[str] = ("tcp", "udp"), *, engine: str = "auto") -> SocketListing:
    """Sockets of ``kinds`` ("tcp", "udp", "unix"), sorted, with owners resolved once per pid.

    ``engine`` is ``auto`` (netlink on Linux, psutil elsewhere or when netlink is unavailable),
    ``netlink`` or ``psutil``.
    """
    wanted = check_kinds(kinds)
    if engine not in ("auto", "netlink", "psutil"):
        raise ValueError(f"unknown engine {engine!r}")
    if engine != "psutil" and platform.has_netlink():
        from netdiag.adapters.listing.netlink import list_sockets_netlink

        listing = list_sockets_netlink(wanted)
        if listing is not None:
            return listing
    from netdiag.adapters.listing.psutil_backend import list_sockets_psutil

    return list_sockets_psutil(wanted)
