"""Emulate macOS or Windows *as netdiag's own modules see the system*, on a Linux test machine.

Put this directory on PYTHONPATH and set NETDIAG_PROFILE=macos|windows for a netdiag child process
(tests/helpers/profiles/__init__.py's ``profile_env`` does both). Only what a netdiag.* module imports
or reads is changed, so psutil, scapy and the standard library (psutil imports ``resource`` on Linux,
asyncio uses epoll) keep working:

* ``builtins.__import__`` is wrapped: an ``import``/``from ... import`` made by a netdiag.* module of a
  module the profile lacks (``resource``, ``fcntl``, ``termios``, ``pwd``, ``grp``, ``uvloop`` on Windows)
  raises ModuleNotFoundError, and the modules it has fewer features of (``socket``, ``_socket``,
  ``select``, ``os``, ``signal``, ``sys``) come back as a read-through proxy without the Linux-only
  attributes (``sys.platform`` reads ``darwin``/``win32``: the messages that name the platform's own
  tools need it, the code paths are chosen by the features).
* ``importlib.util.find_spec`` called from a netdiag module answers None for the missing modules.
* Windows only: ``socket.SO_EXCLUSIVEADDRUSE`` exists (a stand-in value, see ``_windows_additions``).
* Windows only: asyncio's event loop is a selector loop without ``add_signal_handler``/``add_reader``
  (``NotImplementedError``, as on the Proactor loop Windows uses).

What it cannot emulate (docs/platforms.md): the kernels themselves (errno values, loopback aliases,
Winsock's behaviour), BPF and Npcap, the real consoles. Those were not tested on a real machine.
"""

from __future__ import annotations

import builtins
import os
import sys
import types
from typing import Any

PROFILE = os.environ.get("NETDIAG_PROFILE", "")

_LINUX_SOCKET = {"SOCK_NONBLOCK", "SOCK_CLOEXEC", "AF_NETLINK", "AF_PACKET", "PACKET_OUTGOING", "PACKET_HOST",
                 "SO_BINDTODEVICE", "SO_RCVBUFFORCE", "TCP_INFO", "TCP_USER_TIMEOUT", "TCP_QUICKACK",
                 "TCP_CONGESTION", "IP_RECVERR", "NETLINK_ROUTE", "SO_PEERSEC"}
REMOVED: dict[str, dict[str, set[str]]] = {
    "macos": {
        "socket": _LINUX_SOCKET,
        "select": {"epoll", "EPOLLIN", "EPOLLOUT", "EPOLLERR", "EPOLLHUP", "EPOLLET", "devpoll"},
        "os": {"sched_getaffinity", "pipe2", "O_PATH", "memfd_create", "eventfd"},
        "signal": set(),
        "sys": set(),
    },
    "windows": {
        "socket": _LINUX_SOCKET | {"AF_UNIX", "MSG_DONTWAIT", "SO_REUSEPORT", "MSG_NOSIGNAL", "if_nameindex"},
        "select": {"epoll", "EPOLLIN", "EPOLLOUT", "EPOLLERR", "EPOLLHUP", "EPOLLET", "devpoll", "poll",
                   "POLLIN", "POLLOUT", "POLLERR", "kqueue"},
        "os": {"fork", "geteuid", "getuid", "getgid", "getegid", "setsid", "killpg", "getpgid",
               "sched_getaffinity", "pipe2", "O_PATH", "O_DIRECTORY", "memfd_create", "eventfd", "WNOHANG"},
        "signal": {"SIGHUP", "SIGKILL", "SIGPIPE", "SIGUSR1", "SIGUSR2", "SIGCHLD", "SIGALRM", "SIGQUIT",
                   "SIGSTOP", "SIGTSTP", "pthread_sigmask", "setitimer", "alarm", "pause", "siginterrupt"},
        "sys": set(),
    },
}
REMOVED.get(PROFILE, {}).setdefault("_socket", REMOVED.get(PROFILE, {}).get("socket", set()))
MISSING_MODULES = {"macos": set(), "windows": {"resource", "fcntl", "termios", "pwd", "grp", "uvloop"}}
PLATFORM_NAME = {"macos": "darwin", "windows": "win32"}
ADDED: dict[str, dict[str, dict[str, Any]]] = {"windows": {}}
"""Names the profile's OS has and Linux lacks, with a stand-in value a Linux call accepts (filled below)."""


class _Stripped(types.ModuleType):
    """A module as the profile's OS would have it: the real one, minus some names."""

    def __init__(self, real: types.ModuleType, removed: set[str], overrides: dict[str, Any]) -> None:
        super().__init__(real.__name__, real.__doc__)
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_removed", removed)
        object.__setattr__(self, "_overrides", overrides)

    def __getattr__(self, name: str) -> Any:
        if name in self._removed:
            raise AttributeError(f"module {self._real.__name__!r} has no attribute {name!r} "
                                 f"({PROFILE} profile)")
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real, name, value)

    def __dir__(self) -> list[str]:
        return [n for n in dir(self._real) if n not in self._removed]


def _from_netdiag(globals_: Any) -> bool:
    name = globals_.get("__name__", "") if isinstance(globals_, dict) else ""
    return isinstance(name, str) and (name == "netdiag" or name.startswith("netdiag."))


def _install() -> None:
    removed = REMOVED[PROFILE]
    missing = MISSING_MODULES[PROFILE]
    proxies: dict[str, types.ModuleType] = {}
    real_import = builtins.__import__

    def proxy_of(module: types.ModuleType) -> types.ModuleType:
        name = module.__name__
        if name not in removed:
            return module
        if name not in proxies:
            overrides = {"platform": PLATFORM_NAME[PROFILE]} if name == "sys" else {}
            overrides.update(ADDED.get(PROFILE, {}).get(name, {}))
            proxies[name] = _Stripped(module, removed[name], overrides)
        return proxies[name]

    def profiled_import(name: str, globals: Any = None, locals: Any = None,
                        fromlist: Any = (), level: int = 0) -> Any:
        if level == 0 and _from_netdiag(globals) and name.partition(".")[0] in missing:
            raise ModuleNotFoundError(f"No module named {name!r} ({PROFILE} profile)", name=name)
        module = real_import(name, globals, locals, fromlist, level)
        if level == 0 and _from_netdiag(globals):
            return proxy_of(module)
        return module

    builtins.__import__ = profiled_import

    import importlib.util

    real_find_spec = importlib.util.find_spec

    def profiled_find_spec(name: str, package: str | None = None) -> Any:
        if name.partition(".")[0] in missing and _from_netdiag(sys._getframe(1).f_globals):
            return None
        return real_find_spec(name, package)

    importlib.util.find_spec = profiled_find_spec
    if PROFILE == "windows":
        _install_windows_loop()


def _install_windows_loop() -> None:
    """asyncio loops without signal handlers and without add_reader/add_writer, as Windows' Proactor."""
    import asyncio
    import selectors
    from asyncio import selector_events

    def missing(name: str) -> Any:
        inherited = getattr(selector_events.BaseSelectorEventLoop, name)

        def method(self: Any, *args: Any) -> Any:
            # asyncio's own sock_accept/sock_recv use these (on a real Proactor loop they use IOCP instead)
            if _from_netdiag(sys._getframe(1).f_globals):
                raise NotImplementedError(f"{name} is not on Windows' event loop (windows profile)")
            return inherited(self, *args)

        return method

    class WindowsLikeLoop(selector_events.BaseSelectorEventLoop):
        add_reader, remove_reader = missing("add_reader"), missing("remove_reader")
        add_writer, remove_writer = missing("add_writer"), missing("remove_writer")
        add_signal_handler = missing("add_signal_handler")
        remove_signal_handler = missing("remove_signal_handler")

    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return WindowsLikeLoop(selectors.SelectSelector())

    asyncio.set_event_loop_policy(Policy())


def _windows_additions() -> None:
    """Windows' ``SO_EXCLUSIVEADDRUSE``: Linux has no such option, so the stand-in is ``SO_KEEPALIVE``,
    which changes nothing for bind(): the listener binds as on Linux without SO_REUSEADDR, exclusively."""
    import socket

    for name in ("socket", "_socket"):
        ADDED["windows"][name] = {"SO_EXCLUSIVEADDRUSE": socket.SO_KEEPALIVE}


if PROFILE in REMOVED:
    if PROFILE == "windows":
        _windows_additions()
    _install()
