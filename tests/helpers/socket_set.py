"""A controlled set of real sockets (listeners, established pairs, a TIME_WAIT, UDP) and ``ss`` parsing.

Used by the sockets tests to compare netdiag's view with iproute2's ``ss`` at the same moment. Every
socket is on loopback and every port is the kernel's choice, so the set is identified by its ports.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from helpers.waiting import wait_until

# ss's state words -> netdiag's (netdiag.core.sockets.SocketState values).
SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV", "FIN-WAIT-1": "FIN_WAIT_1",
    "FIN-WAIT-2": "FIN_WAIT_2", "TIME-WAIT": "TIME_WAIT", "UNCONN": "UNCONN", "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK", "LISTEN": "LISTEN", "CLOSING": "CLOSING",
}

_USERS = re.compile(r'\("(?P<name>[^"]*)",pid=(?P<pid>\d+),fd=\d+\)')


@dataclass(frozen=True)
class SsRow:
    """One line of ``ss -tunap`` in netdiag's vocabulary (addresses without brackets)."""

    proto: str
    local_address: str
    local_port: int
    remote_address: str | None
    remote_port: int | None
    state: str
    pids: frozenset[int]
    names: frozenset[str]


def _split_endpoint(text: str) -> tuple[str | None, int | None]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if "%" in host:  # link-local scope: fe80::1%eth0
        host = host.split("%", 1)[0]
    return (None if host == "*" else host), (None if port == "*" else int(port))


def parse_ss(text: str) -> list[SsRow]:
    """Parse ``ss -tuna`` / ``ss -tunap`` output (always with -u: ss drops the Netid column for -t alone)."""
    rows = []
    for line in text.splitlines()[1:]:
        parts = line.split(None, 6)
        if len(parts) < 6:
            continue
        proto, state, _recv_q, _send_q, local, peer = parts[:6]
        users = parts[6] if len(parts) > 6 else ""
        local_address, local_port = _split_endpoint(local)
        remote_address, remote_port = _split_endpoint(peer)
        matches = list(_USERS.finditer(users))
        rows.append(SsRow(
            proto=proto, local_address=local_address or "", local_port=local_port or 0,
            remote_address=remote_address if remote_port is not None else None, remote_port=remote_port,
            state=SS_STATES[state], pids=frozenset(int(m["pid"]) for m in matches),
            names=frozenset(m["name"] for m in matches),
        ))
    return rows


def run_ss(*options: str) -> list[SsRow]:
    if shutil.which("ss") is None:
        raise AssertionError("iproute2's ss is missing (./dev test installs it)")
    result = subprocess.run(["ss", *options], capture_output=True, text=True, timeout=30, check=True)
    return parse_ss(result.stdout)


Endpoints = tuple[str, str, int, "str | None", "int | None"]


@dataclass
class SocketSet:
    """The sockets a test opened, by exact endpoints: the host's loopback is busy with other sockets
    (other tests' TIME_WAITs may reuse our port numbers, UDP and TCP share numbers), so a port alone
    does not identify ours; (proto, local address:port, peer address:port) does."""

    endpoints: set[Endpoints] = field(default_factory=set)
    time_wait: Endpoints | None = None

    def ours(self, proto: str, local_address: str, local_port: int | None, remote_address: str | None,
             remote_port: int | None) -> bool:
        return (proto, local_address, local_port, remote_address, remote_port) in self.endpoints

    def port_of(self, proto: str, local_address: str) -> int:
        """The port of our listener (tcp) or unconnected socket (udp) on ``local_address``."""
        return next(e[2] for e in self.endpoints if e[0] == proto and e[1] == local_address and e[3] is None)

    def add(self, proto: str, sock: socket.socket, *, connected: bool = True) -> Endpoints:
        local = sock.getsockname()
        peer = sock.getpeername() if connected else (None, None)
        found: Endpoints = (proto, local[0], local[1], peer[0], peer[1])
        self.endpoints.add(found)
        return found


def _listener(stack: ExitStack, found: SocketSet, family: socket.AddressFamily, host: str) -> socket.socket:
    server = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
    server.bind((host, 0))
    server.listen(8)
    found.add("tcp", server, connected=False)
    return server


def _pair(stack: ExitStack, found: SocketSet, server: socket.socket, family: socket.AddressFamily) -> None:
    client = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
    client.connect(server.getsockname()[:2])
    accepted, _ = server.accept()
    stack.enter_context(accepted)
    found.add("tcp", client)
    found.add("tcp", accepted)


@contextmanager
def controlled_sockets() -> Iterator[SocketSet]:
    """Listeners on 127.0.0.1 and ::1, an established pair on each, a TIME_WAIT, UDP bound and connected."""
    found = SocketSet()
    with ExitStack() as stack:
        v4 = _listener(stack, found, socket.AF_INET, "127.0.0.1")
        v6 = _listener(stack, found, socket.AF_INET6, "::1")
        _pair(stack, found, v4, socket.AF_INET)
        _pair(stack, found, v6, socket.AF_INET6)
        # TIME_WAIT, deterministically: the side that closes first ends in TIME_WAIT.
        closer = socket.create_connection(v4.getsockname()[:2], timeout=5)
        found.time_wait = found.add("tcp", closer)
        peer, _ = v4.accept()
        closer.close()
        with peer:
            peer.settimeout(5)
            assert peer.recv(16) == b""  # the FIN arrived: now close our side too
        wait_until(lambda: any(r.state == "TIME_WAIT" and found.ours(r.proto, r.local_address, r.local_port,
                                                                      r.remote_address, r.remote_port)
                               for r in run_ss("-tuna")), timeout=10, what="the closer's TIME_WAIT")
        unconnected = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        unconnected.bind(("127.0.0.1", 0))
        found.add("udp", unconnected, connected=False)
        target = stack.enter_context(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
        target.bind(("::1", 0))
        found.add("udp", target, connected=False)
        connected = stack.enter_context(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
        connected.connect(target.getsockname()[:2])
        found.add("udp", connected)
        yield found
