"""What ``netdiag doctor`` reports: dependency versions and every capability platform.py decides, with why.

Kept apart from platform.py, which answers the questions; this module only gathers the answers in the
order the doctor shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

from netdiag.adapters import platform

# Runtime dependencies whose versions a bug report needs (distribution names).
DEPENDENCIES = ("typer", "psutil", "scapy", "tabulate", "uvloop")


@dataclass(frozen=True)
class Capability:
    """One thing netdiag may use here: whether it is available, and in words why or what to do."""

    name: str
    available: bool
    detail: str


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
    limit = platform.open_files_limit()
    tools = platform.firewall_tools()
    capture = platform.may_capture()
    return [
        Capability("socket table via netlink", platform.has_netlink(),
                   "fast listing with TCP details" if platform.has_netlink()
                   else "not Linux or not allowed here: psutil lists sockets instead"),
        Capability("epoll scanner", platform.has_epoll(),
                   "probe's fastest engine" if platform.has_epoll() else "probe uses its portable scanner"),
        Capability("fork", platform.has_fork(),
                   "probe's parallel workers" if platform.has_fork() else "probe runs in one process"),
        Capability("packet capture", capture,
                   "handshake and tour can capture" if capture else platform.capture_advice()),
        Capability("signal handlers in asyncio", platform.has_signal_handlers(),
                   "listen stops cleanly on SIGTERM" if platform.has_signal_handlers()
                   else "listen stops through Python's own signal handler (Ctrl-C)"),
        Capability("open-files limit", limit is not None,
                   f"soft {limit[0]}, hard {limit[1]}" if limit else "no RLIMIT_NOFILE on this platform"),
        Capability("firewall readable", bool(tools) and platform.is_root(), _firewall_detail(tools)),
        Capability("uvloop", platform.has_uvloop(),
                   "listen's default event loop" if platform.has_uvloop()
                   else "listen uses the standard asyncio loop"),
    ]


def _firewall_detail(tools: tuple[str, ...]) -> str:
    if platform.os_name() != "linux":
        return platform.firewall_advice()
    if not tools:
        return "no iptables or nft installed: nothing to read"
    if not platform.is_root():
        return f"{', '.join(tools)} installed, but reading rules needs root (sudo)"
    return ", ".join(tools)
