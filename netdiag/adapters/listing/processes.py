"""Who owns a socket: process names (one lookup per pid), and the user and command line of ``--wide``.

On Linux names come from /proc the way psutil reads them, without importing psutil.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, NamedTuple

from netdiag.adapters import platform


class ProcessDetails(NamedTuple):
    """What ``--wide`` adds for a pid: the owning user and the full command line.

    A named tuple, not a dataclass: every listing imports this module, and a dataclass's generated
    methods cost its start-up 0.4 ms, for a record only ``--wide`` makes."""

    user: str | None
    cmdline: str | None


def process_names(pids: Iterable[int]) -> dict[int, str]:
    """One name lookup per pid (not per socket); processes that vanished or are hidden are left out.

    On Linux the names are read from /proc the way psutil reads them, without importing psutil (tens of
    milliseconds of start-up that the netlink path otherwise never pays).
    """
    if platform.is_linux() and os.path.isdir("/proc/self"):
        return {pid: name for pid in pids if (name := proc_name(pid)) is not None}
    import psutil

    names: dict[int, str] = {}
    for pid in pids:
        try:
            names[pid] = psutil.Process(pid).name()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return names


def proc_name(pid: int) -> str | None:
    """A process's name as ``psutil.Process(pid).name()`` gives it on Linux, or None if it is gone.

    The kernel keeps 15 characters of the name (``comm``, in /proc/PID/stat); like psutil, a name that
    long is completed from the command line when argv[0]'s base name starts with it.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:  # gone, or /proc hides it
        return None
    name = os.fsdecode(data[data.find(b"(") + 1:data.rfind(b")")])
    if len(name) < 15:
        return name
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            arguments = cmdline.read()
    except OSError:
        return name
    first = arguments.split(b"\0", 1)[0] if arguments.endswith(b"\0") else arguments.split(b" ", 1)[0]
    extended = os.path.basename(os.fsdecode(first))
    return extended if first and extended.startswith(name) else name


def describe_processes(pids: Iterable[int]) -> dict[int, ProcessDetails]:
    """User and command line per pid for ``--wide``; whatever the OS hides stays None."""
    import psutil

    details: dict[int, ProcessDetails] = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        details[pid] = ProcessDetails(user=_safe(process.username), cmdline=_safe_cmdline(process))
    return details


def _safe(call: Any) -> str | None:
    import psutil

    try:
        return str(call())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, KeyError):
        return None  # KeyError: a uid with no passwd entry (psutil raises it from pwd)


def _safe_cmdline(process: Any) -> str | None:
    import psutil

    try:
        words = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return " ".join(words) if words else None
