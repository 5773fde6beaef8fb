"""scapy at the edge, through its public API: loading it, packet sockets, routes, the sniffer thread, and
packets turned into core ``Segment`` values.

scapy is imported inside the functions (never at module level, never ``scapy.all``): only ``netdiag
handshake`` pays for it. Packets become core ``Segment`` values here; the analysis never sees a scapy
object. ``netdiag.adapters.capture.live`` builds the two captures (one connection, a watched port) on this.
What needs scapy's private internals (the loopback socket class, the raw socket inside a capture socket)
is in ``netdiag.adapters.capture.scapy_private``, with tests that fail when scapy changes it.

Facts this module relies on (Linux, scapy 2.8):

* On ``lo`` every packet is seen twice by a packet socket (once leaving, once arriving). Like libpcap,
  we drop the ``PACKET_OUTGOING`` copy on loopback (``scapy_private.listen_socket_class``), so each
  segment appears once.
* scapy 2.8 rejects ``AsyncSniffer(timeout=...)``: the recorder is stopped explicitly, and waiters wait
  on a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netdiag.adapters import platform as platform_features
from netdiag.adapters.capture.scapy_private import listen_socket_class, raw_socket, sniffer_alive
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import NetworkFailure, PrivilegeError, UsageError
from netdiag.core.handshake import Segment, TcpOptions

READY_TIMEOUT = 5.0


@dataclass(frozen=True)
class Route:
    """Where packets to a destination leave: the interface and the source address the kernel picks."""

    interface: str
    source: str


# --- scapy loading and packet conversion -------------------------------------------------------------


def load_scapy(*, ipv6: bool = False) -> None:
    """Import the scapy layers we use (a few hundred ms), quietly; explain when scapy is unusable."""
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
        return platform_features.interface_names()
    except OSError:
        return [loopback_name()]


def open_capture_socket(interface: str, bpf: str) -> Any:
    """A packet socket on ``interface`` filtered by ``bpf``; privilege problems become ``PrivilegeError``."""
    from scapy.error import Scapy_Exception

    check_interface(interface)
    try:
        sock = _open_or_explain(interface, bpf)
    except Scapy_Exception:
        # No libpcap to compile the BPF filter: capture everything, the lfilter still selects.
        sock = _open_or_explain(interface, None)
    _enlarge_buffer(sock)
    return sock


CAPTURE_BUFFER = 16 * 2**20


def _enlarge_buffer(sock: Any) -> None:
    """A 16 MB kernel queue for the packet socket (default ~200 kB): while the sniffer thread waits for
    the interpreter (a watch serving the lecture page, a busy machine), a burst of connections queues
    instead of being dropped. SO_RCVBUFFORCE passes the rmem_max limit with CAP_NET_ADMIN."""
    raw = raw_socket(sock)
    if raw is None:
        return
    for option in platform_features.receive_buffer_options():
        with contextlib.suppress(OSError):
            raw.setsockopt(socket.SOL_SOCKET, option, CAPTURE_BUFFER)
            return


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


def check_may_capture() -> None:
    """``PrivilegeError`` when this platform says before trying that no capture is possible here."""
    missing = platform_features.capture_missing()
    if missing is not None:
        raise PrivilegeError(privilege_message(PermissionError(errno.EPERM, missing)))


def _open_or_explain(interface: str, bpf: str | None) -> Any:
    check_may_capture()
    try:
        if platform_features.has_packet_socket():
            cls = listen_socket_class(loopback=interface == loopback_name())
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
        if exc.errno == errno.ENETDOWN:
            raise UsageError(f"Interface {interface} is down, so nothing can be captured on it: bring it up "
                             f"(sudo ip link set {interface} up) or capture on another interface.") from exc
        raise PrivilegeError(f"Cannot capture on {interface}: {exc.strerror or exc}.") from exc
    except (ImportError, RuntimeError) as exc:
        raise PrivilegeError(f"Cannot capture on {interface}: scapy says: {exc}.") from exc


CAPTURE_GROUP = "netdiag-capture"


def privilege_message(exc: OSError, *, platform: str | None = None, executable: str = sys.executable,
                      prefix: str = sys.prefix, base_prefix: str = sys.base_prefix) -> str:
    """One clear message about capture privileges, with the fix for this platform.

    Never "setcap on python3": a capability on the system's interpreter (which is what
    ``readlink -f .venv/bin/python`` names, a venv's python being a link to it) gives raw sockets to every
    Python script of every user. What confines the right: sudo, or the capability on a dedicated copy of
    the interpreter inside netdiag's own virtual environment that only a capture group may run (as
    Wireshark's dumpcap: root:wireshark, mode 0750).
    """
    if platform is None:  # the platform word, as callers (tests) pass them
        platform = {"windows": "win32", "macos": "darwin"}.get(platform_features.os_name(), "linux")
    reason = exc.strerror or str(exc)
    head = f"Capturing packets needs privileges this process does not have ({reason})."
    if platform.startswith("win"):
        return (head + " Install Npcap (https://npcap.com/#download) with the option \"Support loopback "
                "traffic\" ticked (it adds the Npcap Loopback Adapter that 127.0.0.1 needs), then run the "
                "terminal as Administrator (right-click > Run as administrator) and the command again.")
    if platform == "darwin":
        return (head + " Run it with sudo (sudo netdiag handshake ...), or give your user read access to "
                "the BPF devices /dev/bpf*: install Wireshark's ChmodBPF "
                "(brew install --cask wireshark-chmodbpf, or Wireshark's installer), log out and in again, "
                "then run the command again.")
    never = ("Do not setcap python3 itself: every Python script of every user would get raw sockets "
             "(docs/handshake.md, Privileges).")
    if prefix == base_prefix:  # not in a virtual environment: nothing of netdiag's own to confine it to
        return (head + " Run it with sudo (sudo netdiag handshake ...). To capture without sudo, install "
                "netdiag in a virtual environment of its own and run this command from there: it will "
                "say how to give the capability to a copy of the interpreter only a group may run. "
                + never)
    venv_bin = os.path.join(prefix, "bin")
    dedicated = os.path.join(venv_bin, "python-capture")
    return (head + f" Run it with sudo (sudo {os.path.join(venv_bin, 'netdiag')} handshake ...). "
            "Or, to capture without sudo, give the capabilities to a copy of the interpreter inside "
            f"netdiag's own virtual environment that only the group {CAPTURE_GROUP} may run (as Wireshark "
            f"does with dumpcap): sudo groupadd --system {CAPTURE_GROUP}; "
            f"sudo usermod -aG {CAPTURE_GROUP} $USER (then log in again); "
            f"sudo install -m 0750 -g {CAPTURE_GROUP} \"$(readlink -f {executable})\" {dedicated}; "
            f"sudo setcap cap_net_raw,cap_net_admin=eip {dedicated}; then run {dedicated} -m netdiag "
            "handshake ... " + never)


# --- the recorder: a sniffer thread filling a list that waiters can wait on ---------------------------


class Recorder:
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
            if not sniffer_alive(self._sniffer) or time.monotonic() > deadline:
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
