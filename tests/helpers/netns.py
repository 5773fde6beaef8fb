"""Network namespaces made and torn down by the tests themselves: the only non-loopback hosts we touch.

``two_hosts()`` builds a client and a server namespace joined by a veth pair, with addresses from
198.18.0.0/15 (RFC 2544 benchmarking space), ``lo`` up, no default route, and ICMP error rate limiting
off (so a burst of REJECTed probes is not mistaken for silence). ``lone_host()`` is one namespace with
only ``lo`` up, for scanning port ranges where the host's loopback services cannot interfere.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CLIENT_ADDR = "198.18.0.1"
SERVER_ADDR = "198.18.0.2"
PREFIX_LEN = 24

_counter = itertools.count()


def can_make_namespaces() -> tuple[bool, str]:
    """Whether this process can build namespaces, and if not the reason a test should skip with."""
    if getattr(os, "geteuid", lambda: -1)() != 0:  # no geteuid: Windows (the portable CI subset)
        return False, "needs root to create network namespaces (CI runs as root)"
    if shutil.which("ip") is None:
        return False, "needs iproute2's `ip` (./dev test installs it)"
    return True, ""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


@dataclass(frozen=True)
class Namespace:
    """One network namespace; ``run``/``popen`` execute a command inside it."""

    name: str

    def argv(self, command: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *command]

    def run(self, *command: str, check: bool = True, timeout: float = 30,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(command), check=check, capture_output=True, text=True,
                              timeout=timeout, input=input)

    def popen(self, *command: str, **kwargs: object) -> subprocess.Popen[str]:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        return subprocess.Popen(self.argv(command), **kwargs)  # type: ignore[call-overload, no-any-return]

    def iptables(self, *rule: str) -> None:
        """Add an iptables rule inside this namespace (for example ``-A INPUT ... -j DROP``)."""
        self.run("iptables", "-w", *rule)


@dataclass(frozen=True)
class TwoHosts:
    client: Namespace
    server: Namespace
    client_addr: str = CLIENT_ADDR
    server_addr: str = SERVER_ADDR


def _unique(tag: str) -> str:
    return f"nd{os.getpid() % 100000}{tag}{next(_counter)}"


def _new_namespace(name: str) -> Namespace:
    _ip("netns", "add", name)
    ns = Namespace(name)
    ns.run("ip", "link", "set", "lo", "up")
    ns.run("sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
    ns.run("sysctl", "-qw", "net.ipv6.icmp.ratelimit=0", check=False)
    return ns


def _delete_namespace(name: str) -> None:
    subprocess.run(["ip", "netns", "pids", name], capture_output=True, timeout=10)
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=20)


@contextmanager
def lone_host() -> Iterator[Namespace]:
    """A namespace with only ``lo`` up: a private 127.0.0.1 for scans and listeners."""
    name = _unique("l")
    try:
        yield _new_namespace(name)
    finally:
        _delete_namespace(name)


@contextmanager
def two_hosts() -> Iterator[TwoHosts]:
    """A client and a server namespace on one veth link (198.18.0.1 <-> 198.18.0.2), no default route."""
    base = _unique("")
    client_name, server_name = f"{base}c", f"{base}s"
    veth_c, veth_s = f"{base}vc", f"{base}vs"
    try:
        client = _new_namespace(client_name)
        server = _new_namespace(server_name)
        _ip("link", "add", veth_c, "type", "veth", "peer", "name", veth_s)
        _ip("link", "set", veth_c, "netns", client_name)
        _ip("link", "set", veth_s, "netns", server_name)
        for ns, dev, addr in ((client, veth_c, CLIENT_ADDR), (server, veth_s, SERVER_ADDR)):
            ns.run("ip", "addr", "add", f"{addr}/{PREFIX_LEN}", "dev", dev)
            ns.run("ip", "link", "set", dev, "up")
        yield TwoHosts(client=client, server=server)
    finally:
        _delete_namespace(client_name)
        _delete_namespace(server_name)


@contextmanager
def namespace_resolv_conf(ns: Namespace, text: str) -> Iterator[Path]:
    """Give ``ns`` its own /etc/resolv.conf (``ip netns exec`` bind-mounts /etc/netns/NAME/resolv.conf).

    Only commands started after this take effect; the file and its directory are removed afterwards.
    """
    directory = Path("/etc/netns") / ns.name
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "resolv.conf"
    path.write_text(text)
    try:
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
