"""What this platform can do: the one module that asks the operating system, for every command to consult.

A socket lab runs on students' Windows and macOS laptops as often as on Linux. Features differ: netlink's
socket table and iptables exist only on Linux, epoll only on Linux, ``fork`` not on Windows, a packet
capture needs root (or CAP_NET_RAW) on Linux, BPF access on macOS and Npcap on Windows. Each question is
answered here, by looking for the feature itself (an attribute, a module, a command) rather than by the
platform's name, so an unusual system gets the answer that fits it.

Every check is cheap and side-effect free (no traffic, no rule changed); ``capabilities()`` gathers them
for ``netdiag doctor``, the first thing a bug report needs.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import dataclass
from importlib import metadata, util

CAP_NET_RAW = 13  # linux/capability.h
# Runtime dependencies whose versions a bug report needs (distribution names).
DEPENDENCIES = ("typer", "psutil", "scapy", "tabulate", "uvloop")


@dataclass(frozen=True)
class Capability:
    """One thing netdiag may use here: whether it is available, and in words why or what to do."""

    name: str
    available: bool
    detail: str


def os_name() -> str:
    """``linux``, ``macos``, ``windows`` or the raw ``sys.platform`` of anything else."""
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    return sys.platform


def is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def has_net_raw(proc_status: str) -> bool:
    """Whether a /proc/PID/status text has CAP_NET_RAW in its effective capability set."""
    for line in proc_status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_NET_RAW & 1)
    return False


def may_capture() -> bool:
    """Whether this process may open a packet capture: root, or (Linux) CAP_NET_RAW in its effective set.

    The second case is the dedicated copy of the interpreter given the capability with setcap, as the
    handshake command's privilege message suggests.
    """
    if is_root():
        return True
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return has_net_raw(status.read())
    except OSError:  # no /proc: not Linux
        return False


def has_netlink() -> bool:
    """Whether the kernel's socket table can be read over netlink sock_diag (Linux, not sandboxed away)."""
    family = getattr(socket, "AF_NETLINK", None)
    if family is None:
        return False
    try:
        socket.socket(family, socket.SOCK_RAW, 4).close()  # 4: NETLINK_SOCK_DIAG
    except OSError:
        return False
    return True


def has_epoll() -> bool:
    import select

    return hasattr(select, "epoll")


def has_fork() -> bool:
    return hasattr(os, "fork")


def has_signal_handlers() -> bool:
    """Whether asyncio's ``loop.add_signal_handler`` works here (not on Windows' loops)."""
    return os_name() != "windows"


def has_resource_limits() -> bool:
    return util.find_spec("resource") is not None


def open_files_limit() -> tuple[int, int] | None:
    """The soft and hard RLIMIT_NOFILE, or None where the platform has no such limit to read."""
    if not has_resource_limits():
        return None
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)


def firewall_tools() -> tuple[str, ...]:
    """The firewall listing commands installed here that ``explain`` knows how to read."""
    if os_name() != "linux":
        return ()
    return tuple(tool for tool in ("iptables", "ip6tables", "nft") if shutil.which(tool))


def dependency_versions() -> dict[str, str | None]:
    """Installed version of each runtime dependency (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def capabilities() -> list[Capability]:
    """Every capability netdiag asks about, in the order ``netdiag doctor`` shows them."""
    limit = open_files_limit()
    tools = firewall_tools()
    capture = may_capture()
    return [
        Capability("socket table via netlink", has_netlink(),
                   "fast listing with TCP details" if has_netlink()
                   else "not Linux or not allowed here: psutil lists sockets instead"),
        Capability("epoll scanner", has_epoll(),
                   "probe's fastest engine" if has_epoll() else "probe uses its portable scanner"),
        Capability("fork", has_fork(),
                   "probe's parallel workers" if has_fork() else "probe runs in one process"),
        Capability("packet capture", capture,
                   "handshake and tour can capture" if capture else _capture_advice()),
        Capability("signal handlers in asyncio", has_signal_handlers(),
                   "listen stops cleanly on SIGTERM" if has_signal_handlers()
                   else "listen stops with Ctrl-C only"),
        Capability("open-files limit", limit is not None,
                   f"soft {limit[0]}, hard {limit[1]}" if limit else "no RLIMIT_NOFILE on this platform"),
        Capability("firewall readable", bool(tools) and is_root(), _firewall_detail(tools)),
        Capability("uvloop", util.find_spec("uvloop") is not None,
                   "listen's default event loop" if util.find_spec("uvloop") is not None
                   else "listen uses the standard asyncio loop"),
    ]


def _capture_advice() -> str:
    name = os_name()
    if name == "windows":
        return "install Npcap (with its loopback adapter) and run the terminal as Administrator"
    if name == "macos":
        return "run with sudo, or give your user read access to /dev/bpf* (Wireshark's ChmodBPF)"
    return "run with sudo (docs/handshake.md: other ways that keep the right confined)"


def _firewall_detail(tools: tuple[str, ...]) -> str:
    if os_name() != "linux":
        return "explain reads Linux firewalls only; check this system's firewall settings by hand"
    if not tools:
        return "no iptables or nft installed: nothing to read"
    if not is_root():
        return f"{', '.join(tools)} installed, but reading rules needs root (sudo)"
    return ", ".join(tools)
