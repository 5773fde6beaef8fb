"""The bounds of a load run, checked before a single packet leaves: limits, payloads, locality.

A load generator is a small denial-of-service tool. ``netdiag load`` therefore refuses to start unless
every bound holds (clients, duration, size, rate all capped) and, unless the user passes
``--allow-remote``, unless the target is an address of this very host. These checks are pure so they can
be tested without sockets, and they run before the generator opens any socket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from netdiag.core.failures import UsageError

MAX_CLIENTS = 10_000
MAX_DURATION_S = 300.0
MAX_TCP_SIZE = 16 * 1024 * 1024
MAX_UDP_SIZE = 65_507  # largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP header bytes)
MAX_RATE = 1_000_000.0
HEADER_LEN = 16  # "c00000 s0000000|" style prefix that makes every request unique


@dataclass(frozen=True)
class LoadPlan:
    """A validated load run: how many clients, for how long, how big, how fast, how patient."""

    host: str
    port: int
    clients: int = 10
    duration: float = 5.0
    size: int = 64
    rate: float | None = None
    udp: bool = False
    timeout: float = 2.0

    def __post_init__(self) -> None:
        check_plan(self)

    @property
    def hard_stop(self) -> float:
        """Seconds after the start when every client is stopped, answered or not."""
        return self.duration + self.timeout + 1.0

    @property
    def per_client_interval(self) -> float | None:
        """Seconds between two requests of one client when ``rate`` (total requests/s) is set."""
        return None if self.rate is None else self.clients / self.rate


def check_plan(plan: LoadPlan) -> None:
    """Raise ``UsageError`` naming the first bound the plan breaks."""
    if not 1 <= plan.clients <= MAX_CLIENTS:
        raise UsageError(f"--clients must be between 1 and {MAX_CLIENTS:,} (got {plan.clients}).")
    if not 0 < plan.duration <= MAX_DURATION_S:
        raise UsageError(
            f"--duration must be more than 0 and at most {MAX_DURATION_S:.0f} s (got {plan.duration:g}): "
            "a load run always stops by itself."
        )
    max_size = MAX_UDP_SIZE if plan.udp else MAX_TCP_SIZE
    if not 1 <= plan.size <= max_size:
        raise UsageError(f"--size must be between 1 and {max_size:,} bytes (got {plan.size}).")
    if plan.rate is not None and not 0 < plan.rate <= MAX_RATE:
        raise UsageError(f"--rate must be more than 0 and at most {MAX_RATE:,.0f} requests/s.")
    if not 0 < plan.timeout <= 60:
        raise UsageError(f"--timeout must be more than 0 and at most 60 s (got {plan.timeout:g}).")


def is_local_address(address: str, local_addresses: Iterable[str]) -> bool:
    """True when connecting to ``address`` stays on this host.

    Loopback (127.0.0.0/8, ::1), the unspecified address (Linux connects 0.0.0.0 to itself), and any
    address assigned to one of this host's interfaces count as local. Zone indexes (``fe80::1%eth0``) are
    ignored when comparing.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if ip.is_loopback or ip.is_unspecified:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_local_address(str(ip.ipv4_mapped), local_addresses)
    for local in local_addresses:
        try:
            if ipaddress.ip_address(local.split("%", 1)[0]) == ip:
                return True
        except ValueError:
            continue
    return False


def remote_refusal(host: str, address: str) -> UsageError:
    """The error for a target that is not this host (raised before any socket is opened)."""
    shown = host if host == address else f"{host} ({address})"
    return UsageError(
        f"{shown} is not an address of this host: netdiag load only loads servers on this machine "
        "unless you pass --allow-remote (load only servers you are allowed to test)."
    )


def make_payload(client: int, sequence: int, size: int) -> bytes:
    """The bytes of one request: unique per client and sequence, printable, ending with a newline.

    Uniqueness (the ``c00042 s0000017|`` header) lets the verifier catch a server that echoes a stale
    message or another client's; printable ASCII keeps servers that print what they receive readable;
    the newline lets line-based echo servers (``readline()``) answer. Requests shorter than the header
    carry a truncated header.
    """
    header = f"c{client % 100000:05d} s{sequence % 10**7:07d}|".encode("ascii")
    if size <= len(header):
        return header[: size - 1] + b"\n"
    return header + payload_filler(size - len(header))


@lru_cache(maxsize=8)
def payload_filler(length: int) -> bytes:
    """``length`` bytes of a-z ending with a newline (the part of every request after its header)."""
    alphabet = b"abcdefghijklmnopqrstuvwxyz"
    return (alphabet * ((length - 1) // 26 + 1))[: length - 1] + b"\n"
