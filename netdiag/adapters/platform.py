"""What this platform can do: the one module that asks the operating system, for every command to consult.

A socket lab runs on students' Windows and macOS laptops as often as on Linux. Features differ: netlink's
socket table and iptables exist only on Linux, epoll only on Linux, ``fork`` not on Windows, a packet
capture needs root (or CAP_NET_RAW) on Linux, BPF access on macOS and Npcap on Windows. Each question is
answered here, by looking for the feature itself (an attribute, a module, a command) rather than by the
platform's name, so an unusual system gets the answer that fits it.

Every check is cheap and side-effect free (no traffic, no rule changed); ``capabilities()`` gathers them
for ``netdiag doctor``, the first thing a bug report needs. Every other module asks here rather than
reading ``sys.platform`` or touching a Linux-only attribute itself (tests/test_architecture.py checks).

``without(...)`` turns features off for the duration of a ``with`` block: the tests run the portable paths
(selectors scanner, psutil listing, accepting without ``add_reader``) natively on Linux that way.

Longer than the ~400 lines a module should keep, on purpose: DEVELOPERS.md asks for *one* module that says
what this platform can do, so that a reader (and tests/test_platform_boundary.py) finds every platform
question in one place; each function is a few lines, grouped by subject (identity and privileges,
sockets and polling, processes and limits, terminal, commands and advice).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from importlib import util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netdiag.core.errno_tables import Platform

CAP_NET_RAW = 13  # linux/capability.h
FEATURES = ("netlink", "epoll", "fork", "nonblocking_flag", "loop_signals", "loop_readers", "dontwait",
            "resource", "uvloop", "pipe_size", "packet_socket")
"""What ``without`` can turn off (names of the features below)."""
_disabled: set[str] = set()


@contextlib.contextmanager
def without(*features: str) -> Iterator[None]:
    """Answer as if ``features`` were missing here, inside the block (for tests of the portable paths)."""
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown features: {sorted(unknown)}")
    before = set(_disabled)
    _disabled.update(features)
    try:
        yield
    finally:
        _disabled.clear()
        _disabled.update(before)


def _on(feature: str) -> bool:
    return feature not in _disabled
# Runtime dependencies whose versions a bug report needs (distribution names).
def os_name() -> str:
    """``linux``, ``macos``, ``windows`` or the raw ``sys.platform`` of anything else."""
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    return sys.platform


def errno_platform() -> Platform:
    """The errno tables' word for this platform (``linux``, ``macos``, ``windows``)."""
    from netdiag.core.errno_tables import platform_of  # a large table: not for probe's start-up

    return platform_of(sys.platform)


def is_linux() -> bool:
    """Linux-only readers (/proc, iptables, prctl) are tried only where this says so."""
    return os_name() == "linux"


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
    """Whether this process may open a packet capture.

    Linux: root, or CAP_NET_RAW in its effective set (the dedicated copy of the interpreter given the
    capability with setcap, as the handshake command's privilege message suggests). macOS: root, or a
    readable BPF device (Wireshark's ChmodBPF). Windows: Administrator with Npcap installed.
    """
    name = os_name()
    if name == "windows":
        return _windows_admin() and _npcap_installed()
    if is_root():
        return True
    if name == "macos":
        return any(os.access(path, os.R_OK) for path in _bpf_devices())
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return has_net_raw(status.read())
    except OSError:  # no /proc: not Linux
        return False


def _bpf_devices() -> list[str]:
    try:
        return [f"/dev/{name}" for name in os.listdir("/dev") if name.startswith("bpf")]
    except OSError:
        return []


def _windows_admin() -> bool:
    import ctypes

    windll = getattr(ctypes, "windll", None)
    return windll is not None and bool(windll.shell32.IsUserAnAdmin())


def _npcap_installed() -> bool:
    root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    return os.path.exists(os.path.join(root, "System32", "Npcap", "wpcap.dll"))


def has_netlink() -> bool:
    """Whether the kernel's socket table can be read over netlink sock_diag (Linux, not sandboxed away)."""
    return _on("netlink") and _netlink_opens()


def sock_diag_channel() -> socket.socket:
    """A netlink sock_diag socket (the kernel's socket table, what ``ss`` reads); OSError where there is
    none: not Linux, or a sandbox forbids netlink. Only the Linux listers call it, after asking
    ``has_netlink``."""
    family = getattr(socket, "AF_NETLINK", None)
    if family is None or not _on("netlink"):
        raise OSError("netlink is not available on this platform")
    return socket.socket(family, socket.SOCK_RAW | getattr(socket, "SOCK_CLOEXEC", 0), 4)  # NETLINK_SOCK_DIAG


@functools.cache
def _netlink_opens() -> bool:
    """Asked of the kernel once per process (the probe and the listers ask on every call)."""
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

    return hasattr(select, "epoll") and _on("epoll")


def new_epoll() -> Any:
    """A new ``select.epoll`` object (call only when ``has_epoll()``)."""
    import select

    return select.epoll()


def portable_selector() -> Any:
    """The best ``selectors`` object this platform has besides epoll: kqueue (macOS), poll, or select.

    Chosen here from the ``select`` module's features rather than ``selectors.DefaultSelector``, so the
    choice follows what this module sees (and what ``without`` turns off)."""
    import select
    import selectors

    if hasattr(select, "kqueue"):
        return selectors.KqueueSelector()  # type: ignore[attr-defined,unused-ignore]
    if hasattr(select, "poll"):
        return selectors.PollSelector()
    return selectors.SelectSelector()


def selector_capacity() -> int | None:
    """How many sockets ``portable_selector()`` can watch at once (select(): FD_SETSIZE), None: no cap."""
    import select

    if hasattr(select, "kqueue") or hasattr(select, "poll"):
        return None
    return 500  # Windows' FD_SETSIZE is 512; on POSIX select() stops at descriptor 1024


def nonblocking_flag() -> int:
    """``SOCK_NONBLOCK`` to or into a socket type where it exists (Linux), else 0: call setblocking(False)."""
    return getattr(socket, "SOCK_NONBLOCK", 0) if _on("nonblocking_flag") else 0


def dontwait_flag() -> int:
    """``MSG_DONTWAIT`` for one send() that must not block, or 0 where it is missing (Windows)."""
    return getattr(socket, "MSG_DONTWAIT", 0) if _on("dontwait") else 0


def has_fork() -> bool:
    return hasattr(os, "fork") and _on("fork")


def fork_process() -> int:
    """``os.fork()`` (call only when ``has_fork()``)."""
    return os.fork()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def has_signal_handlers() -> bool:
    """Whether asyncio's ``loop.add_signal_handler`` works here (not on Windows' loops)."""
    return os_name() != "windows" and _on("loop_signals")


def on_stop_signals(loop: Any, callback: Callable[[], None],
                    signals: tuple[str, ...] = ("SIGINT", "SIGTERM")) -> Callable[[], None]:
    """Call ``callback`` in ``loop`` on SIGINT or SIGTERM; returns the undo.

    Where the loop cannot (Windows' loops, ``NotImplementedError``) Python's own ``signal.signal`` handlers
    hand the call to the loop thread-safely; outside the main thread nothing is installed (the caller's
    other way of stopping stays)."""
    numbers = [getattr(signal, name) for name in signals if hasattr(signal, name)]
    if _on("loop_signals"):
        try:
            for signum in numbers:
                loop.add_signal_handler(signum, callback)
        except (NotImplementedError, RuntimeError):  # Windows' loops; not the main thread
            pass
        else:
            def remove() -> None:
                for signum in numbers:
                    loop.remove_signal_handler(signum)

            return remove
    previous: list[tuple[int, Any]] = []

    def handler(signum: int, frame: Any) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(callback)

    try:
        for signum in numbers:
            previous.append((signum, signal.signal(signum, handler)))
    except ValueError:  # not the main thread
        pass

    def undo() -> None:
        for signum, handler in previous:
            signal.signal(signum, handler)

    return undo


def loop_watches_descriptors(loop: Any) -> bool:
    """Whether ``loop.add_reader`` works (not on Windows' Proactor loop)."""
    if not _on("loop_readers"):
        return False
    return type(loop).add_reader is not _abstract_add_reader()  # callers still catch NotImplementedError


def _abstract_add_reader() -> Any:
    import asyncio

    return asyncio.AbstractEventLoop.add_reader


def has_resource_limits() -> bool:
    if not _on("resource"):
        return False
    try:
        import resource  # noqa: F401
    except ImportError:
        return False
    return True


def open_files_limit() -> tuple[int, int] | None:
    """The soft and hard RLIMIT_NOFILE, or None where the platform has no such limit to read."""
    if not has_resource_limits():
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinite = resource.RLIM_INFINITY
    return (-1 if soft == infinite else soft), (-1 if hard == infinite else hard)


def raise_open_files_limit(wanted: int | None = None) -> tuple[int, int] | None:
    """Raise the soft RLIMIT_NOFILE to ``wanted`` (None: the hard limit) as far as allowed; return the
    limits now in force (-1: unlimited), or None where the platform has no such limit."""
    limits = open_files_limit()
    if limits is None:
        return None
    import resource

    soft, hard = limits
    if soft == -1:
        return limits
    target = hard if wanted is None else (wanted if hard == -1 else min(wanted, hard))
    if target == -1 or target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (resource.RLIM_INFINITY if target == -1 else target,
                                                        resource.RLIM_INFINITY if hard == -1 else hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft, hard


def grow_pipe(fd: int, extra: int) -> None:
    """Grow the pipe ``fd`` by ``extra`` bytes (Linux ``F_SETPIPE_SZ``); elsewhere nothing."""
    if not _on("pipe_size"):
        return
    try:
        import fcntl

        current = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, current + extra)
    except (ImportError, AttributeError, OSError):  # not Linux, not a pipe, or over the user's pipe quota
        pass


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGTERM a child when this process dies, even by SIGKILL.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere None. libc is loaded here, in the parent: the
    child between fork and exec should only call it."""
    if not is_linux():
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def stop_with_parent() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl ran: nobody will stop this child
            os._exit(1)

    return stop_with_parent


def has_packet_socket() -> bool:
    """Linux's AF_PACKET capture sockets (scapy's native Linux capture)."""
    return hasattr(socket, "AF_PACKET") and is_linux() and _on("packet_socket")


def interface_names() -> list[str]:
    """Every network interface's name, as this platform's capture knows it.

    ``socket.if_nameindex`` where Python offers it (Linux, macOS); otherwise psutil's names, the ones
    Windows and Npcap show (Windows' ``if_nameindex``, where present, gives LUID-derived names instead)."""
    if hasattr(socket, "if_nameindex") and os_name() != "windows":
        return [name for _, name in socket.if_nameindex()]
    import psutil

    return list(psutil.net_if_addrs())


def has_unix_sockets() -> bool:
    """Unix domain sockets as Python offers them (not on Windows' Python)."""
    return hasattr(socket, "AF_UNIX")


def end_of_input_keys() -> str:
    """What ends typed input in this platform's terminal (``connect``'s interactive hint)."""
    return "Ctrl-Z then Enter" if os_name() == "windows" else "Ctrl-D"


def capture_missing() -> str | None:
    """Why this process cannot capture where that is known before trying (macOS, Windows), else None.

    On Linux the attempt itself tells (EPERM), with its own advice; elsewhere scapy's native capture
    needs a BPF device (macOS) or the Npcap driver (Windows), whose absence it reports unclearly."""
    name = os_name()
    if name == "windows":
        if not _npcap_installed():
            return "the Npcap driver is not installed"
        if not _windows_admin():
            return "this terminal is not running as Administrator"
        return None
    if name == "macos":
        if not _bpf_devices():
            return "no BPF device (/dev/bpf*) found"
        if not may_capture():
            return "no readable BPF device (/dev/bpf*) for this user"
    return None


def other_loopback_address() -> str:
    """A loopback address of this machine other than 127.0.0.1, for showing a loopback-only bind.

    Linux and Windows route all of 127.0.0.0/8 to this machine, so 127.0.0.2 answers. macOS's lo0 holds
    only 127.0.0.1 (127.0.0.2 would need an alias: ``sudo ifconfig lo0 alias 127.0.0.2``), so there it is
    IPv6's loopback, ::1, which every macOS has."""
    return "::1" if os_name() == "macos" else "127.0.0.2"


def receive_buffer_options() -> tuple[int, ...]:
    """Socket options that set a receive buffer, the one that passes rmem_max first (Linux, with
    CAP_NET_ADMIN: ``SO_RCVBUFFORCE``), then ``SO_RCVBUF``."""
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    return (socket.SO_RCVBUF,) if force is None else (force, socket.SO_RCVBUF)


def listener_bind_option() -> int:
    """The socket option a listening socket sets before bind(): what makes "address already in use" happen.

    Windows' ``SO_REUSEADDR`` lets a second server bind a port another one listens on (and steal its
    connections), so there ``SO_EXCLUSIVEADDRUSE`` is set: the second ``listen`` fails as the lab teaches.
    Elsewhere ``SO_REUSEADDR``: a restart is not blocked by TIME_WAIT leftovers, and a live listener
    still refuses the second bind."""
    exclusive = exclusive_bind_option()
    return socket.SO_REUSEADDR if exclusive is None else exclusive


def exclusive_bind_option(module: Any = socket) -> int | None:
    """``SO_EXCLUSIVEADDRUSE`` where the socket module has it (Windows), else None."""
    value = getattr(module, "SO_EXCLUSIVEADDRUSE", None)
    return value if isinstance(value, int) else None


ENABLE_VIRTUAL_TERMINAL_PROCESSING = 0x0004
"""The console mode flag with which Windows' console draws ANSI escape codes instead of printing them."""
_STD_HANDLES = {1: -11, 2: -12}  # file descriptor -> STD_OUTPUT_HANDLE, STD_ERROR_HANDLE


def terminal_shows_colour(fileno: int) -> bool:
    """Whether ANSI colour codes written to the terminal on ``fileno`` show as colour.

    Everywhere but Windows, yes. Windows' console shows them only with virtual terminal processing on
    (Windows Terminal turns it on; the classic console does not): it is switched on here, once per
    stream, and where that fails (an old Windows, no console) the answer is no colour."""
    if os_name() != "windows":
        return True
    return _windows_virtual_terminal(fileno)


@functools.cache
def _windows_virtual_terminal(fileno: int) -> bool:
    import ctypes

    windll = getattr(ctypes, "windll", None)
    if windll is None or fileno not in _STD_HANDLES:
        return False
    kernel32 = windll.kernel32
    handle = kernel32.GetStdHandle(_STD_HANDLES[fileno])

    def get_mode() -> int | None:
        mode = ctypes.c_uint32()
        return mode.value if kernel32.GetConsoleMode(handle, ctypes.byref(mode)) else None

    def set_mode(mode: int) -> bool:
        return bool(kernel32.SetConsoleMode(handle, mode))

    return enable_virtual_terminal(get_mode, set_mode)


def enable_virtual_terminal(get_mode: Callable[[], int | None], set_mode: Callable[[int], bool]) -> bool:
    """Switch on virtual terminal processing through the console API given; whether it is on now.

    ``get_mode`` is GetConsoleMode (None: it failed, not a console), ``set_mode`` SetConsoleMode (False:
    refused, as Windows before 10 does). The mode's other flags are kept."""
    mode = get_mode()
    if mode is None:
        return False
    if mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING:
        return True
    return set_mode(mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING)


DEFAULT_ROUTE_COMMANDS = {"macos": (("route", "-n", "get", "default"), "route-get"),
                          "windows": (("route", "print", "-4"), "route-print")}
"""Read-only commands that show the IPv4 default route where /proc does not, and their output's format."""


def default_route_command() -> tuple[tuple[str, ...], str] | None:
    """The command to read the default route with, and its output format (``route-get``: macOS's
    ``route -n get default``; ``route-print``: Windows' ``route print -4``); None where /proc/net/route
    is read instead (Linux) or the command is missing."""
    entry = DEFAULT_ROUTE_COMMANDS.get(os_name())
    if entry is None or shutil.which(entry[0][0]) is None:
        return None
    return entry


def has_uvloop() -> bool:
    return _on("uvloop") and util.find_spec("uvloop") is not None


def firewall_tools() -> tuple[str, ...]:
    """The firewall listing commands installed here that ``explain`` knows how to read."""
    if os_name() != "linux":
        return ()
    return tuple(tool for tool in ("iptables", "ip6tables", "nft") if shutil.which(tool))


def capture_advice() -> str:
    """How to get the right to capture on this platform, in one sentence."""
    name = os_name()
    if name == "windows":
        return "install Npcap (with its loopback adapter) and run the terminal as Administrator"
    if name == "macos":
        return "run with sudo, or give your user read access to /dev/bpf* (Wireshark's ChmodBPF)"
    return "run with sudo (docs/handshake.md: other ways that keep the right confined)"


FIREWALL_COMMANDS = {
    "macos": ("/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate", "sudo pfctl -sr"),
    "windows": ("netsh advfirewall show allprofiles",
                "Get-NetFirewallRule -Enabled True -Direction Inbound | Format-Table DisplayName,Action"),
}
"""Read-only commands that show this platform's firewall, for the user to run where netdiag cannot read it."""


def firewall_advice() -> str:
    """What ``explain``'s firewall step says where it cannot read the rules itself (not Linux)."""
    commands = FIREWALL_COMMANDS.get(os_name())
    if commands is None:
        return "netdiag reads Linux firewalls only (nft, iptables); check this system's firewall by hand"
    shown = "; ".join(f"`{command}`" for command in commands)
    where = "PowerShell" if os_name() == "windows" else "Terminal"
    return f"not readable by netdiag here; to see it, run in {where} (read-only): {shown}"
