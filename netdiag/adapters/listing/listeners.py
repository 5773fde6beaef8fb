"""Ports of this host answered from the kernel's socket table: nothing is sent to the server.

Which addresses are "this host": loopback, the unspecified address, and any address the kernel routes to
itself (a UDP ``connect()`` to it picks that same address as source; it sends nothing). The listeners
(and, for UDP, the bound unconnected sockets) come from netlink sock_diag on Linux (one dump per family,
with the accept queue and IPV6_V6ONLY, what ``ss -ltn`` / ``ss -lun`` show), else from psutil. Matching
them to a target is pure: ``netdiag.core.socket_table``.
"""

from __future__ import annotations

import socket
import struct

from netdiag.adapters.platform import has_netlink
from netdiag.core.socket_table import Listener, describe_listener, destination, serves

_TCP_LISTEN = 10
_UDP_UNCONNECTED = 7  # TCP_CLOSE: a UDP socket bound but not connected, which takes datagrams from anyone
_INET_DIAG_SKV6ONLY = 11
_RTATTR = struct.Struct("=HH")
# inet_diag_msg: family, state, timer, retrans; sport, dport (big-endian); src[16], dst[16], if, cookie[2];
# expires, rqueue, wqueue, uid, inode.
_LISTEN_MESSAGE = struct.Struct("=B3xH2x16s16sI8x4xIIII")


def is_this_host(address: str) -> bool:
    """Whether ``address`` is this host (this network namespace): loopback, unspecified, or local."""
    import ipaddress

    bare = address.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return False
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, 9))  # the route lookup only: a UDP connect sends nothing
            source = str(sock.getsockname()[0]).split("%", 1)[0]
    except OSError:
        return False
    return ipaddress.ip_address(source) == ip


def tcp_listeners(ports: set[int] | None = None, *, owners: bool = False) -> list[Listener]:
    """The listening TCP sockets of this host (network namespace), on ``ports`` when given. ``owners``
    looks their processes up in /proc: a pass over every process's descriptors (tens of milliseconds on
    a busy machine, more than the rest of a probe), so only when asked."""
    if has_netlink():
        found = _netlink_listeners(ports, owners)
        if found is not None:
            return found
    return [x for x in _psutil_listeners() if ports is None or x.port in ports]


def udp_receivers(ports: set[int] | None = None, *, owners: bool = False) -> list[Listener]:
    """The bound, unconnected UDP sockets of this host (``ss -lu``), on ``ports`` when given: a datagram to
    their address and port is received; to a port with none, the kernel answers ICMP port-unreachable."""
    if has_netlink():
        found = _netlink_listeners(ports, owners, udp=True)
        if found is not None:
            return found
    return [x for x in _psutil_listeners(udp=True) if ports is None or x.port in ports]


def udp_receiver(address: str, port: int) -> str | None:
    """The bound UDP socket of this host that receives what is sent to ``address:port``, described (its
    process too), or None when ``address`` is not this host or no socket is bound there."""
    if not is_this_host(address):
        return None
    serving = [x for x in udp_receivers({port}, owners=True) if serves(x, address, port)]
    return describe_listener(serving[0]) if serving else None


def _netlink_listeners(ports: set[int] | None, owners: bool, *, udp: bool = False) -> list[Listener] | None:
    from netdiag.adapters.listing.netlink import (
        _NLMSGHDR,
        _REQUEST,
        NLM_F_DUMP,
        NLM_F_REQUEST,
        NLMSG_DONE,
        NLMSG_ERROR,
        SOCK_DIAG_BY_FAMILY,
        socket_owners,
    )
    from netdiag.adapters.listing.processes import process_names
    from netdiag.adapters.platform import sock_diag_channel

    try:
        channel = sock_diag_channel()
    except OSError:
        return None
    found: list[tuple[Listener, int]] = []
    with channel:
        for family in (socket.AF_INET, socket.AF_INET6):
            request = (_REQUEST.pack(family, socket.IPPROTO_UDP, 0, 1 << _UDP_UNCONNECTED) if udp
                       else _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 1 << _TCP_LISTEN))
            header = _NLMSGHDR.pack(_NLMSGHDR.size + len(request), SOCK_DIAG_BY_FAMILY,
                                    NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
            try:
                channel.send(header + request)
            except OSError:
                return None
            done = False
            while not done:
                try:
                    data = channel.recv(1 << 20)
                except OSError:
                    return None
                if not data:
                    break
                offset = 0
                while offset + _NLMSGHDR.size <= len(data):
                    length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                    if kind == NLMSG_DONE:
                        done = True
                        break
                    if kind == NLMSG_ERROR:
                        if family == socket.AF_INET6:  # IPv6 disabled: no IPv6 listeners
                            done = True
                            break
                        return None
                    if length < _NLMSGHDR.size or offset + length > len(data):
                        return None
                    body = offset + _NLMSGHDR.size
                    if length - _NLMSGHDR.size >= _LISTEN_MESSAGE.size:
                        entry = _listener(data, body, offset + length, family, udp)
                        if ports is None or entry[0].port in ports:
                            found.append(entry)
                    offset += (length + 3) & ~3
    if not owners or not found:
        return [listener for listener, _inode in found]
    pids = socket_owners({inode for _, inode in found})
    names = process_names(set(pids.values()))
    result = []
    for listener, inode in found:
        pid = pids.get(inode)
        result.append(Listener(listener.family, listener.address, listener.port, listener.v6only,
                               listener.queued, listener.backlog, pid, names.get(pid) if pid else None,
                               listener.proto))
    return result


def _listener(data: bytes, at: int, end: int, family: int, udp: bool = False) -> tuple[Listener, int]:
    _family, port, src, _dst, _ifindex, queued, backlog, _uid, inode = _LISTEN_MESSAGE.unpack_from(data, at)
    port = socket.ntohs(port)
    raw = src[:4] if family == socket.AF_INET else src
    address = socket.inet_ntop(family, raw)
    v6only = None
    offset = at + _LISTEN_MESSAGE.size
    while offset + _RTATTR.size <= end:
        attr_len, attr_type = _RTATTR.unpack_from(data, offset)
        if attr_len < _RTATTR.size:
            break
        if attr_type == _INET_DIAG_SKV6ONLY and attr_len > _RTATTR.size:
            v6only = bool(data[offset + _RTATTR.size])
        offset += (attr_len + 3) & ~3
    version = 4 if family == socket.AF_INET else 6
    if udp:  # a UDP socket's queues are bytes of datagrams, not an accept queue
        return Listener(version, address, port, v6only, proto="udp"), inode
    return Listener(version, address, port, v6only, queued, backlog), inode


def _psutil_listeners(*, udp: bool = False) -> list[Listener]:
    import psutil

    try:
        connections = psutil.net_connections(kind="udp" if udp else "tcp")
    except psutil.AccessDenied:  # macOS without root: what our own processes hold is all we can see
        connections = []
    listeners = []
    for conn in connections:
        if not conn.laddr or (conn.raddr if udp else conn.status != psutil.CONN_LISTEN):
            continue
        version = 6 if conn.family == socket.AF_INET6 else 4
        listeners.append(Listener(version, conn.laddr.ip, conn.laddr.port, pid=conn.pid,
                                  proto="udp" if udp else "tcp"))
    return listeners


__all__ = ["destination", "is_this_host", "tcp_listeners", "udp_receiver",
           "udp_receivers"]
