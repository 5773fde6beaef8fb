"""Packet capture with scapy: open one connection and record every segment of it, or watch a port.

scapy is imported inside the functions (never at module level, never ``scapy.all``): only ``netdiag
handshake`` pays for it. Packets become core ``Segment`` values here, at the edge; the analysis never
sees a scapy object.

Facts this module relies on (Linux, scapy 2.8):

* The capture socket is opened in the calling thread *before* the client connects: the kernel queues
  every matching packet from that moment, so no segment can slip past while the sniffer thread starts.
  The socket also fails right there, in the caller, when privileges are missing.
* On ``lo`` every packet is seen twice by a packet socket (once leaving, once arriving). Like libpcap,
  we drop the ``PACKET_OUTGOING`` copy on loopback, so each segment appears once.
* The client socket is bound before ``connect`` so that the BPF filter names the exact 4-tuple.
* ``TCP_INFO`` tells how many segments the kernel sent and received on the client socket; the capture
  waits until it holds at least as many, so "done" is a condition, not a guess.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import queue
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import NetworkFailure, PrivilegeError, UsageError
from netdiag.core.handshake import Address, Segment, TcpOptions, belongs_to, is_finished
from netdiag.core.targets import format_endpoint

READY_TIMEOUT = 5.0
SETTLE_TIMEOUT = 2.0


class ConnectStatus(str, Enum):
    """What the client socket itself saw (the capture says why)."""

    CONNECTED = "connected"
    REFUSED = "refused"
    TIMED_OUT = "timed-out"
    RESET = "reset"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Route:
    """Where packets to a destination leave: the interface and the source address the kernel picks."""

    interface: str
    source: str


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


# --- scapy loading and packet conversion -------------------------------------------------------------


def load_scapy(*, ipv6: bool = False) -> None:
    """Import the scapy layers we use (about 250 ms), quietly; explain when scapy is unusable."""
    logging.getLogger("scapy").setLevel(logging.ERROR)
    try:
        from scapy.config import conf

        # scapy reads the IPv4 and IPv6 routing tables when its layers load (0.1-0.3 s); netdiag asks
        # the kernel instead (``route_to``), so those tables are loaded only if ever needed.
        conf.route_autoload = False
        conf.route6_autoload = False
        import scapy.layers.inet
        import scapy.sendrecv

        if ipv6:
            import scapy.layers.inet6  # noqa: F401
    except ImportError as exc:
        raise PrivilegeError(
            f"Packet capture is unavailable: scapy cannot be imported ({exc}). "
            "Install it into netdiag's environment: pip install scapy"
        ) from exc
    except OSError as exc:
        raise PrivilegeError(f"Packet capture is unavailable: scapy failed to load ({exc}).") from exc


def packet_to_segment(packet: Any) -> Segment | None:
    """A scapy packet as a core ``Segment``; ``None`` for anything that is not TCP over IPv4/IPv6."""
    from scapy.layers.inet import IP, TCP
    from scapy.packet import Padding

    if not packet.haslayer(TCP):
        return None
    tcp = packet[TCP]
    ip = packet.getlayer(IP)
    if ip is None:
        ip = packet.getlayer("IPv6")
        if ip is None:
            return None
        padding = packet.getlayer(Padding)
        length = len(tcp) - tcp.dataofs * 4 - (len(padding) if padding is not None else 0)
    else:
        length = ip.len - ip.ihl * 4 - tcp.dataofs * 4
    return Segment(
        time=float(packet.time),
        src=str(ip.src),
        sport=int(tcp.sport),
        dst=str(ip.dst),
        dport=int(tcp.dport),
        flags=str(tcp.flags),
        seq=int(tcp.seq),
        ack=int(tcp.ack),
        length=max(int(length), 0),
        window=int(tcp.window),
        options=tcp_options(tcp.options),
    )


def tcp_options(options: Sequence[tuple[str, Any]]) -> TcpOptions:
    """scapy's option list (``[('MSS', 1460), ('SAckOK', b''), ...]``) as ``TcpOptions``."""
    values = {name: value for name, value in options if isinstance(name, str)}
    timestamp = values.get("Timestamp")
    return TcpOptions(
        mss=values.get("MSS"),
        wscale=values.get("WScale"),
        sack_permitted="SAckOK" in values,
        timestamp=(int(timestamp[0]), int(timestamp[1])) if timestamp else None,
    )


def write_pcap(packets: Sequence[Any], path: str) -> None:
    """Write captured packets to ``path`` as a classic pcap file (tcpdump -r and Wireshark read it)."""
    from scapy.utils import wrpcap

    try:
        wrpcap(path, list(packets))
    except OSError as exc:
        raise UsageError(f"Cannot write the capture to {path}: {exc.strerror or exc}.") from exc


# --- routes and capture sockets -------------------------------------------------------------------


def loopback_name() -> str:
    from scapy.config import conf

    return str(conf.loopback_name)


def route_to(address: str) -> Route:
    """The interface and source address the kernel would use to reach ``address``."""
    source = _udp_source(address)
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return Route(interface=loopback_name(), source=source)
    return Route(interface=_kernel_route_device(address) or _scapy_route_device(address), source=source)


def _udp_source(address: str) -> str:
    """Ask the kernel for the source address by connecting a UDP socket (UDP connect sends nothing)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((address, 9))
        except OSError as exc:
            cause = Cause.NO_ROUTE if exc.errno == errno.ENETUNREACH else Cause.HOST_UNREACHABLE
            raise NetworkFailure(
                f"No route to {address}: {exc.strerror or exc}.", explanation=explanation_for(cause)
            ) from exc
        return str(probe.getsockname()[0])


def _kernel_route_device(address: str) -> str | None:
    """``ip route get ADDRESS`` -> the ``dev`` it names (Linux); None when ``ip`` is not there."""
    ip_tool = shutil.which("ip")
    if ip_tool is None:
        return None
    try:
        result = subprocess.run([ip_tool, "-o", "route", "get", address], capture_output=True,
                                text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = result.stdout.split()
    return words[words.index("dev") + 1] if "dev" in words[:-1] else None


def _scapy_route_device(address: str) -> str:
    from scapy.config import conf

    table = conf.route6 if ":" in address else conf.route
    if not table.routes:
        table.resync()  # not loaded at import (see load_scapy)
    return str(table.route(address)[0])


def interface_names() -> list[str]:
    """Every interface of this host (the watch mode listens on all of them unless told otherwise)."""
    try:
        return [name for _, name in socket.if_nameindex()]
    except OSError:
        return [loopback_name()]


def open_capture_socket(interface: str, bpf: str) -> Any:
    """A packet socket on ``interface`` filtered by ``bpf``; privilege problems become ``PrivilegeError``."""
    from scapy.error import Scapy_Exception

    check_interface(interface)
    try:
        return _open_or_explain(interface, bpf)
    except Scapy_Exception:
        # No libpcap to compile the BPF filter: capture everything, the lfilter still selects.
        return _open_or_explain(interface, None)


def check_interface(interface: str) -> None:
    """Refuse an unknown interface name in our words (scapy would raise a bare ValueError)."""
    if not hasattr(socket, "if_nametoindex"):
        return
    try:
        socket.if_nametoindex(interface)
    except OSError as exc:
        known = ", ".join(interface_names())
        raise UsageError(f"No interface named '{interface}' (this host has: {known}). "
                         "See `netdiag interfaces` or `ip link`.") from exc


def _open_or_explain(interface: str, bpf: str | None) -> Any:
    try:
        if sys.platform.startswith("linux"):
            cls = _linux_listen_class(loopback=interface == loopback_name())
            return cls(iface=interface, filter=bpf)
        from scapy.config import conf

        return conf.L2listen(iface=interface, filter=bpf)
    except PermissionError as exc:
        raise PrivilegeError(privilege_message(exc)) from exc
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO):
            raise UsageError(
                f"No interface named '{interface}': see `netdiag interfaces` or `ip link`."
            ) from exc
        raise PrivilegeError(f"Cannot capture on {interface}: {exc.strerror or exc}.") from exc
    except (ImportError, RuntimeError) as exc:
        raise PrivilegeError(f"Cannot capture on {interface}: scapy says: {exc}.") from exc


def privilege_message(exc: OSError) -> str:
    """One clear message about capture privileges, with the fix for this platform."""
    reason = exc.strerror or str(exc)
    head = f"Capturing packets needs privileges this process does not have ({reason})."
    if sys.platform.startswith("win"):
        return head + " Install Npcap (https://npcap.com) and run the terminal as Administrator."
    if sys.platform == "darwin":
        return (head + " Run it with sudo, or give your user read access to the BPF devices "
                "(/dev/bpf*; Wireshark's ChmodBPF package does this).")
    interpreter = sys.executable
    return (head + " Run it with sudo (sudo netdiag handshake ...), or grant the capture capabilities "
            f"to the interpreter once: sudo setcap cap_net_raw,cap_net_admin=eip "
            f"$(readlink -f {interpreter})")


_LINUX_CLASSES: dict[bool, Any] = {}


def _linux_listen_class(*, loopback: bool) -> Any:
    """scapy's L2ListenSocket, or on loopback a variant that keeps only the arriving copy of a packet."""
    if loopback in _LINUX_CLASSES:
        return _LINUX_CLASSES[loopback]
    from scapy.arch.linux import L2ListenSocket, get_last_packet_timestamp
    from scapy.data import MTU

    if not loopback:
        _LINUX_CLASSES[loopback] = L2ListenSocket
        return L2ListenSocket

    class InboundLoopbackSocket(L2ListenSocket):
        """Drops PACKET_OUTGOING copies: on lo each segment is delivered out and in (libpcap does this)."""

        def recv_raw(self, x: int = MTU) -> tuple[Any, Any, Any]:
            pkt, sa_ll, ts = self._recv_raw(self.ins, x)
            if sa_ll[2] == socket.PACKET_OUTGOING:
                return None, None, None
            if ts is None:
                ts = get_last_packet_timestamp(self.ins)
            return self.LL, pkt, ts

    _LINUX_CLASSES[loopback] = InboundLoopbackSocket
    return InboundLoopbackSocket


# --- the recorder: a sniffer thread filling a list that waiters can wait on ---------------------------


class _Recorder:
    """Runs an AsyncSniffer on open sockets and keeps matching segments (and packets) under a condition."""

    def __init__(self, sockets: dict[Any, str], accept: Callable[[Segment], bool], keep_packets: bool):
        self._sockets = sockets
        self._accept = accept
        self._keep = keep_packets
        self._changed = threading.Condition()
        self.segments: list[Segment] = []
        self.packets: list[Any] = []
        self._started = threading.Event()
        self._sniffer: Any = None

    def _on_packet(self, packet: Any) -> None:
        segment = packet_to_segment(packet)
        if segment is None or not self._accept(segment):
            return
        with self._changed:
            self.segments.append(segment)
            if self._keep:
                self.packets.append(packet)
            self._changed.notify_all()

    def start(self) -> None:
        from scapy.sendrecv import AsyncSniffer

        self._sniffer = AsyncSniffer(opened_socket=self._sockets, prn=self._on_packet, store=False,
                                     started_callback=self._started.set)
        self._sniffer.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._started.wait(0.01):
            if not self._sniffer.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise PrivilegeError("The packet capture did not start (scapy's sniffer thread stopped).")

    def wait_for(self, predicate: Callable[[list[Segment]], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.segments), timeout)

    def stop(self) -> None:
        from scapy.error import Scapy_Exception

        if self._sniffer is not None:
            with contextlib.suppress(Scapy_Exception, OSError):
                self._sniffer.stop()
            self._sniffer = None
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


# --- active: one connection ------------------------------------------------------------------------


def resolve_target(host: str) -> str:
    from netdiag.adapters.resolve import resolve_host

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
        recorder = _Recorder({capture_sock: interface}, lambda s: belongs_to(s, client, server),
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


def _settle(recorder: _Recorder, status: ConnectStatus, client: Address,
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


@contextlib.contextmanager
def watch_port(port: int, interfaces: Sequence[str] | None = None) -> Iterator[PortWatch]:
    """Capture TCP segments to or from ``port`` on ``interfaces`` (default: every interface).

    ``next_segment(timeout)`` returns the next segment, or None after ``timeout`` seconds (short
    timeouts keep Ctrl-C responsive in the caller's loop).
    """
    load_scapy(ipv6=True)
    names = list(interfaces) if interfaces else interface_names()
    sockets: dict[Any, str] = {}
    bpf = f"tcp port {port}"
    try:
        for name in names:
            try:
                sockets[open_capture_socket(name, bpf)] = name
            except UsageError:
                if interfaces:
                    raise
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    arrived: queue.Queue[Segment] = queue.Queue()

    def accept(segment: Segment) -> bool:
        if port in (segment.sport, segment.dport):
            arrived.put(segment)
        return False

    recorder = _Recorder(sockets, accept, keep_packets=False)
    recorder.start()

    def next_segment(timeout: float) -> Segment | None:
        try:
            return arrived.get(timeout=timeout)
        except queue.Empty:
            return None

    try:
        yield PortWatch(interfaces=list(sockets.values()), next_segment=next_segment)
    finally:
        recorder.stop()
