"""The Linux fast path: sockets from netlink sock_diag (what ``ss`` uses), owners from one /proc scan.

psutil reads /proc/net/tcp{,6} and /proc/net/udp{,6} as text and scans every process's fds; at 10,000
connections that text parsing is the bottleneck. ``NETLINK_SOCK_DIAG`` hands the same table over as
binary records (``struct inet_diag_msg``), so we ask for it once per family and protocol, then map socket
inodes to pids with a single pass over ``/proc/*/fd``. Unix sockets come from ``/proc/net/unix`` (which
carries the listening flag psutil drops). Any netlink refusal returns None and the caller uses psutil.

Struct layouts are from ``linux/inet_diag.h`` and ``linux/netlink.h``.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator, Sequence

from netdiag.adapters.listing.processes import process_names
from netdiag.adapters.listing.rows import finish_listing
from netdiag.core.sockets import KERNEL_TCP_STATES, SocketListing, SocketRow, SocketState, new_socket_row

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
ALL_STATES = 0xFFFFFFFF
# Since Linux 6.10 a dump asking for the pseudo-state TCP_BOUND_INACTIVE (13) also lists TCP sockets that
# are bound but neither listening nor connected; ss, netstat and /proc/net/tcp (psutil) do not show them,
# so neither do we: the same listing on every path.
TCP_BOUND_INACTIVE = 13
TCP_STATES = ALL_STATES & ~(1 << TCP_BOUND_INACTIVE)

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
# inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid (ports/addresses big-endian).
_REQUEST = struct.Struct("=BBBxI48x")
# A whole message in one native unpack: the netlink header's length and type, then inet_diag_msg's state,
# source and destination addresses (4 bytes for IPv4, 16 for IPv6) and inode (uid and the rest skipped).
# The ports are big-endian: one more unpack at _PORTS_AT from the message's start.
_MESSAGES: dict[int, struct.Struct] = {
    socket.AF_INET: struct.Struct("=IH10x" "xB6x4s12x4s12x28xI"),
    socket.AF_INET6: struct.Struct("=IH10x" "xB6x16s16s28xI"),
}
_PORTS = struct.Struct("!HH")
_PORTS_AT = 20  # netlink header (16), then inet_diag_msg's family, state, timer, retrans
_RECEIVE_BYTES = 1 << 20  # far more than one netlink dump message batch (32 KiB at most on Linux 6)
_UNKNOWN = SocketState.UNKNOWN.value
# Kernel TCP state number -> ss's word, as a list indexed by the state byte (one index per socket).
_STATE_WORDS = [KERNEL_TCP_STATES[n].value if n in KERNEL_TCP_STATES else _UNKNOWN for n in range(256)]

_PROTOCOLS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
_FAMILIES = ((socket.AF_INET, "ipv4"), (socket.AF_INET6, "ipv6"))
_SO_ACCEPTCON = 0x10000  # /proc/net/unix Flags bit of a listening socket
_SS_CONNECTING, _SS_CONNECTED = 2, 3


class NetlinkUnavailable(Exception):
    """The kernel (or a sandbox) refused sock_diag: the caller falls back to psutil."""


def list_sockets_netlink(kinds: Sequence[str]) -> SocketListing | None:
    """Sockets of ``kinds`` via sock_diag and /proc, or None when netlink is not available here."""
    try:
        found = _inet_sockets([k for k in kinds if k in _PROTOCOLS])
    except NetlinkUnavailable:
        return None
    if "unix" in kinds:
        found.extend(_unix_sockets())
    owners = socket_owners({fields[0] for fields in found})
    names = process_names(set(owners.values()))
    # Rows and their ``sort_key`` made in one pass (the key from the values at hand, not a call per row),
    # then put in that order: what ``finish_listing`` would do, at a fraction of the cost for 20,000 rows
    # (the key is ``core.sockets.sort_key``'s, written out: tests/adapters/listing checks the order).
    rows: list[SocketRow] = []
    keys: list[tuple[str, int, str, str, str, int, int]] = []
    get_owner, get_name, add_row, add_key = owners.get, names.get, rows.append, keys.append
    for inode, proto, family, local_address, local_port, remote_address, remote_port, state in found:
        pid = get_owner(inode)
        add_row(new_socket_row(proto, family, local_address, local_port, remote_address, remote_port, state,
                               pid, get_name(pid) if pid is not None else None))
        add_key((proto, local_port or 0, family, local_address, remote_address or "", remote_port or 0,
                 pid or 0))
    order = sorted(range(len(rows)), key=keys.__getitem__)
    return finish_listing([rows[index] for index in order], ordered=True)


# A socket as read, before its owner is known: inode, then SocketRow's fields up to ``state``.
Found = tuple[int, str, str, str, "int | None", "str | None", "int | None", str]


def _inet_sockets(protocols: Sequence[str]) -> list[Found]:
    from netdiag.adapters.platform import sock_diag_channel

    try:
        channel = sock_diag_channel()
    except OSError as exc:  # no netlink, or a sandbox forbids it
        raise NetlinkUnavailable(str(exc)) from exc
    found: list[Found] = []
    buffer = bytearray(_RECEIVE_BYTES)  # one buffer for every batch of every dump: no allocation per recv
    with channel:
        for proto in protocols:
            for family, family_name in _FAMILIES:
                _dump(channel, family, family_name, proto, found, buffer)
    return found


def _dump(channel: socket.socket, family: int, family_name: str, proto: str, found: list[Found],
          buffer: bytearray) -> None:
    """One SOCK_DIAG_BY_FAMILY dump: every socket of one family and protocol, in every state, appended to
    ``found``. One loop with everything at hand in locals: at 20,000 sockets a call per message showed.

    Each message is unpacked whole (``_MESSAGES``) before its type is known: ``recv_into`` leaves room
    for one more message at the end of ``buffer``, so even a short one at a batch's end (the dump's
    DONE) unpacks; its socket fields are only read when its length says they are there."""
    states = TCP_STATES if proto == "tcp" else ALL_STATES
    request = _REQUEST.pack(family, _PROTOCOLS[proto], 0, states)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                            1, 0)
    try:
        channel.send(header + request)
    except OSError as exc:
        raise NetlinkUnavailable(str(exc)) from exc
    addresses: dict[bytes, str] = {}
    message = _MESSAGES[family]
    header_size, whole = _NLMSGHDR.size, message.size
    limit = len(buffer) - whole
    receive, unpack_message, unpack_ports = channel.recv_into, message.unpack_from, _PORTS.unpack_from
    state_words, append, inet_ntop = _STATE_WORDS, found.append, socket.inet_ntop
    while True:
        try:
            size = receive(buffer, limit)
        except OSError as exc:
            raise NetlinkUnavailable(str(exc)) from exc
        if not size:
            return
        offset = 0
        while offset + header_size <= size:
            length, kind, kernel_state, src, dst, inode = unpack_message(buffer, offset)
            if kind == NLMSG_DONE:
                return
            if kind == NLMSG_ERROR:
                code = -struct.unpack_from("=i", buffer, offset + header_size)[0]
                if code in (errno.ENOENT, errno.EAFNOSUPPORT) and family == socket.AF_INET6:
                    return  # IPv6 disabled: no IPv6 sockets, not a failure
                raise NetlinkUnavailable(os.strerror(code))
            if length < header_size or offset + length > size:
                raise NetlinkUnavailable("truncated netlink message")
            if length >= whole:
                local_port, remote_port = unpack_ports(buffer, offset + _PORTS_AT)
                local = addresses.get(src)
                if local is None:
                    local = addresses[src] = inet_ntop(family, src)
                if remote_port:
                    remote = addresses.get(dst)
                    if remote is None:
                        remote = addresses[dst] = inet_ntop(family, dst)
                    append((inode, proto, family_name, local, local_port, remote, remote_port,
                            state_words[kernel_state]))
                else:
                    append((inode, proto, family_name, local, local_port, None, None,
                            state_words[kernel_state]))
            offset += (length + 3) & ~3


def _unix_sockets() -> Iterator[Found]:
    """``/proc/net/unix``: Num RefCount Protocol Flags Type St Inode [Path]."""
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as table:
            lines = table.read().splitlines()[1:]
    except OSError:
        return
    for line in lines:
        fields = line.split(None, 7)
        if len(fields) < 7:
            continue
        flags, st, inode = int(fields[3], 16), int(fields[5], 16), int(fields[6])
        path = fields[7] if len(fields) > 7 else ""
        if flags & _SO_ACCEPTCON:
            state = SocketState.LISTEN
        elif st == _SS_CONNECTED:
            state = SocketState.ESTABLISHED
        elif st == _SS_CONNECTING:
            state = SocketState.SYN_SENT
        else:
            state = SocketState.UNCONN
        yield inode, "unix", "unix", path, None, None, None, state.value


def socket_owners(inodes: set[int]) -> dict[int, int]:
    """Socket inode -> the lowest pid holding it, from one pass over /proc/*/fd (what ss -p does).

    Processes are read in increasing pid order, so the pass ends as soon as every inode has its owner:
    no later process could be a lower pid. Inode 0 is never looked for: the kernel gives it to sockets
    no process holds (TIME_WAIT, and connections still waiting in a listener's accept queue)."""
    owners: dict[int, int] = {}
    wanted = len(inodes) - (0 in inodes)
    if not wanted:  # nothing to look for: no need to read every descriptor of every process
        return owners
    try:
        pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    except OSError:
        return owners
    readlink = os.readlink
    for pid in pids:
        try:  # the fd directory opened once: each readlink then looks up one name, not a whole path
            directory = os.open(f"/proc/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # gone, or another user's process without root
            continue
        try:
            for fd in os.listdir(directory):
                try:
                    target = readlink(fd, dir_fd=directory)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inode = int(target[8:-1])
                    if inode in inodes and inode not in owners:
                        owners[inode] = pid
        except OSError:  # the process ended while we read it
            continue
        finally:
            os.close(directory)
        if len(owners) == wanted:
            break
    return owners
