"""Packet capture for ``netdiag handshake``: record every segment of one connection, or watch a port.

The scapy side (packet sockets, routes, packet conversion) is in ``netdiag.adapters.capture.scapy_glue``;
this module orders the steps so that no segment can be missed:

* The client socket is bound before ``connect`` so that the BPF filter names the exact 4-tuple.
* The capture socket is opened in the calling thread *before* the client connects: the kernel queues
  every matching packet from that moment, so no segment can slip past while the sniffer thread starts.
  The socket also fails right there, in the caller, when privileges are missing.
* ``TCP_INFO`` tells how many segments the kernel sent and received on the client socket; the capture
  waits until it holds at least as many, so "done" is a condition, not a guess.
"""

from __future__ import annotations

import contextlib
import errno
import queue
import socket
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from netdiag.adapters.capture.scapy_glue import (
    Recorder,
    check_may_capture,
    interface_names,
    load_scapy,
    open_capture_socket,
    route_to,
)
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import NetworkFailure, UsageError
from netdiag.core.handshake import Address, Segment, belongs_to, is_finished
from netdiag.core.targets import format_endpoint

SETTLE_TIMEOUT = 2.0


class ConnectStatus(str, Enum):
    """What the client socket itself saw (the capture says why)."""

    CONNECTED = "connected"
    REFUSED = "refused"
    TIMED_OUT = "timed-out"
    RESET = "reset"
    UNREACHABLE = "unreachable"


@dataclass
class ConnectionCapture:
    """The result of ``capture_connection``: segments in capture order, what the socket saw, and counts."""

    client: Address
    server: Address
    interface: str
    status: ConnectStatus
    waited: float
    segments: list[Segment]
    packets: list[Any] = field(default_factory=list)
    kernel_sent: int | None = None
    kernel_received: int | None = None
    os_error: OSError | None = None
    ready_after: float = 0.0

    @property
    def missed(self) -> int:
        """Segments the kernel counted on the client socket that the capture does not hold (0 if unknown)."""
        if self.kernel_sent is None or self.kernel_received is None:
            return 0
        sent = sum(1 for s in self.segments if s.source == self.client)
        received = len(self.segments) - sent
        return max(self.kernel_sent - sent, 0) + max(self.kernel_received - received, 0)


# --- active: one connection ------------------------------------------------------------------------


def resolve_target(host: str) -> str:
    from netdiag.adapters.net.resolve import resolve_host

    addresses = resolve_host(host)
    ipv4 = [a for a in addresses if ":" not in a]
    return (ipv4 or addresses)[0]


def capture_connection(
    address: str,
    port: int,
    *,
    interface: str | None = None,
    message: bytes | None = None,
    timeout: float = 5.0,
    keep_packets: bool = False,
) -> ConnectionCapture:
    """Capture, then connect to ``address:port``, send ``message``, close; return every segment seen."""
    started = time.monotonic()
    ipv6 = ":" in address
    load_scapy(ipv6=ipv6)
    route = route_to(address)
    interface = interface or route.interface
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    client_sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        client_sock.bind((route.source, 0))
        client: Address = (route.source, int(client_sock.getsockname()[1]))
        server: Address = (address, port)
        bpf = (f"tcp and host {client[0]} and host {address} and port {client[1]} and port {port}")
        capture_sock = open_capture_socket(interface, bpf)
        recorder = Recorder({capture_sock: interface}, lambda s: belongs_to(s, client, server),
                             keep_packets)
        recorder.start()
        ready_after = time.monotonic() - started
        try:
            status, waited, error, counts = _converse(client_sock, server, message, timeout)
            client_sock.close()
            _settle(recorder, status, client, counts)
        finally:
            recorder.stop()
    finally:
        client_sock.close()
    return ConnectionCapture(
        client=client, server=server, interface=interface, status=status, waited=waited,
        segments=list(recorder.segments), packets=list(recorder.packets),
        kernel_sent=counts[0] if counts else None, kernel_received=counts[1] if counts else None,
        os_error=error, ready_after=ready_after,
    )


def _converse(
    sock: socket.socket, server: Address, message: bytes | None, timeout: float
) -> tuple[ConnectStatus, float, OSError | None, tuple[int, int] | None]:
    """Connect, send, half-close, read to EOF; returns what happened and the kernel's segment counts."""
    sock.settimeout(timeout)
    began = time.monotonic()
    try:
        sock.connect(server)
    except ConnectionRefusedError as exc:
        return ConnectStatus.REFUSED, time.monotonic() - began, exc, None
    except TimeoutError as exc:
        return ConnectStatus.TIMED_OUT, time.monotonic() - began, exc, _segment_counts(sock)
    except ConnectionResetError as exc:
        return ConnectStatus.RESET, time.monotonic() - began, exc, None
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return ConnectStatus.UNREACHABLE, time.monotonic() - began, exc, None
        raise NetworkFailure(f"Cannot connect to {format_endpoint(*server)}: {exc.strerror or exc}.",
                             explanation=explanation_for(Cause.UNKNOWN)) from exc
    waited = time.monotonic() - began
    try:
        if message:
            sock.sendall(message)
        sock.shutdown(socket.SHUT_WR)
        _read_to_eof(sock, began + waited + timeout)
    except OSError as exc:
        # A RST that arrives while we send or close: reset, broken pipe, or (already torn down by the
        # RST when shutdown runs) "not connected".
        if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
            return ConnectStatus.RESET, waited, exc, None
        raise NetworkFailure(f"The connection to {format_endpoint(*server)} failed: "
                             f"{exc.strerror or exc}.", explanation=explanation_for(Cause.UNKNOWN)) from exc
    return ConnectStatus.CONNECTED, waited, None, _segment_counts(sock)


def _read_to_eof(sock: socket.socket, deadline: float) -> None:
    """Read the server's reply until it closes (its FIN), or until the deadline."""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return
        except TimeoutError:
            return


def _segment_counts(sock: socket.socket) -> tuple[int, int] | None:
    """(segments sent, segments received) from Linux ``TCP_INFO`` (tcpi_segs_out/in); None elsewhere."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, 256)
    except OSError:
        return None
    if len(info) < 144:
        return None
    segs_out, segs_in = struct.unpack_from("II", info, 136)
    return int(segs_out), int(segs_in)


def _settle(recorder: Recorder, status: ConnectStatus, client: Address,
            counts: tuple[int, int] | None) -> None:
    """Wait (bounded) until the capture holds what the kernel says happened on the client socket."""
    if status in (ConnectStatus.REFUSED, ConnectStatus.RESET):
        recorder.wait_for(lambda segs: any(s.has("R") for s in segs), SETTLE_TIMEOUT)
        return
    if counts is not None:
        sent, received = counts

        def complete(segs: list[Segment]) -> bool:
            out = sum(1 for s in segs if s.source == client)
            return out >= sent and len(segs) - out >= received

        recorder.wait_for(complete, SETTLE_TIMEOUT)
        return
    if status is ConnectStatus.CONNECTED:
        recorder.wait_for(is_finished, SETTLE_TIMEOUT / 4)
    else:
        recorder.wait_for(lambda segs: bool(segs), SETTLE_TIMEOUT / 4)


# --- passive: watch a port -------------------------------------------------------------------------


@dataclass(frozen=True)
class PortWatch:
    """A running passive capture: the interfaces it listens on and a way to take the next segment."""

    interfaces: list[str]
    next_segment: Callable[[float], Segment | None]
    skipped: list[str] = field(default_factory=list)  # interfaces left out because they are down


def interfaces_down(names: Sequence[str]) -> list[str]:
    """The interfaces of ``names`` that are down (administratively, or without a carrier): a capture there
    fails with ENETDOWN or sees nothing, so the watch of every interface leaves them out and says so."""
    import psutil

    try:
        stats = psutil.net_if_stats()
    except OSError:
        return []
    return [name for name in names if name in stats and not stats[name].isup]


@contextlib.contextmanager
def watch_port(port: int, interfaces: Sequence[str] | None = None) -> Iterator[PortWatch]:
    """Capture TCP segments to or from ``port`` on ``interfaces`` (default: every interface).

    ``next_segment(timeout)`` returns the next segment, or None after ``timeout`` seconds (short
    timeouts keep Ctrl-C responsive in the caller's loop).
    """
    check_may_capture()  # before listing the interfaces to watch: the missing driver is what to say
    load_scapy(ipv6=True)
    names = list(interfaces) if interfaces else interface_names()
    skipped = [] if interfaces else interfaces_down(names)
    sockets: dict[Any, str] = {}
    bpf = f"tcp port {port}"
    try:
        for name in names:
            if name in skipped:
                continue
            try:
                sockets[open_capture_socket(name, bpf)] = name
            except UsageError:
                if interfaces:
                    raise
                skipped.append(name)  # went down (or away) between the listing and the capture
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    arrived: queue.Queue[Segment] = queue.Queue()

    def accept(segment: Segment) -> bool:
        if port in (segment.sport, segment.dport):
            arrived.put(segment)
        return False

    recorder = Recorder(sockets, accept, keep_packets=False)
    recorder.start()

    def next_segment(timeout: float) -> Segment | None:
        try:
            return arrived.get(timeout=timeout)
        except queue.Empty:
            return None

    try:
        yield PortWatch(interfaces=list(sockets.values()), next_segment=next_segment, skipped=skipped)
    finally:
        recorder.stop()
