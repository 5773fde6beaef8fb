"""What ``netdiag explain`` observes about a target, and the small facts derived from it. Pure.

The adapter (``netdiag.adapters.explain``) fills ``Observations``; the engine (``netdiag.core.diagnosis``)
and the checklist (``netdiag.core.diagnosis_steps``) read them. ``None`` or empty means "not looked" or
"not known", never "absent".
"""

from __future__ import annotations

import errno as errno_codes
import ipaddress
from dataclasses import dataclass, field
from enum import Enum

from netdiag.core.catalog import Cause
from netdiag.core.probe import ProbeMethod, ProbeResult, Proto, Reason
from netdiag.core.socket_table import Listener
from netdiag.core.socket_table import serves as table_serves
from netdiag.core.sockets import SocketRow
from netdiag.core.targets import format_endpoint


class StepStatus(str, Enum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Step:
    """One line of the checklist: what was checked, how it went, and the facts behind it."""

    name: str
    status: StepStatus
    summary: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteObservation:
    """Which source address and interface the kernel would use to reach ``address`` (or why none)."""

    address: str
    source_address: str | None = None
    interface: str | None = None
    error: str | None = None
    blocked_by: str | None = None  # a route that discards the traffic: "blackhole 198.18.5.0/24"


@dataclass(frozen=True)
class FirewallRule:
    """A firewall rule that concerns the port, as the tool printed it, with its action."""

    text: str
    action: str  # "drop", "reject", "accept"
    tool: str  # "iptables", "ip6tables", "nft"
    direction: str = ""  # "in" (INPUT, hook input), "out" (OUTPUT, hook output), "" (other chains)


@dataclass(frozen=True)
class FirewallObservation:
    """What the firewall of this host (this network namespace) says about the port, read without changes."""

    readable: bool
    tools: tuple[str, ...] = ()
    rules: tuple[FirewallRule, ...] = ()
    default_policies: tuple[str, ...] = ()  # e.g. "iptables INPUT policy DROP"
    note: str | None = None  # why it could not be read (not root, no tool, not Linux)

    @property
    def blocking_rules(self) -> tuple[FirewallRule, ...]:
        return tuple(rule for rule in self.rules if rule.action in ("drop", "reject"))

    def blocking_for(self, local_target: bool) -> tuple[FirewallRule, ...]:
        """The blocking rules on the path of a connection from this host: to another host only the
        outgoing ones (and those of chains of unknown direction); to this host, both."""
        return tuple(rule for rule in self.blocking_rules if local_target or rule.direction != "in")

    @property
    def outgoing_blocks(self) -> tuple[FirewallRule, ...]:
        return tuple(rule for rule in self.blocking_rules if rule.direction == "out")

    @property
    def outgoing_policies(self) -> tuple[str, ...]:
        return tuple(p for p in self.default_policies if " OUTPUT " in p or p.endswith("(output hook)"))


@dataclass(frozen=True)
class Observations:
    """Every fact ``explain`` gathered about one target; None/empty means "not looked" or "not known"."""

    host: str
    port: int
    proto: Proto = Proto.TCP
    addresses: tuple[str, ...] = ()
    resolve_error: str | None = None
    routes: tuple[RouteObservation, ...] = ()
    local_target: bool = False
    listeners: tuple[SocketRow, ...] | None = None
    listing_note: str | None = None
    attempts: tuple[ProbeResult, ...] = ()
    firewall: FirewallObservation | None = None
    neighbour_reachable: bool | None = None
    table: tuple[Listener, ...] | None = None  # the kernel's TCP listeners on the port (queue, V6ONLY)
    platform: str = "linux"
    timeout: float = 2.0


@dataclass(frozen=True)
class Diagnosis:
    """The verdict: a cause code, one sentence, the facts behind it, and numbered fixes."""

    cause: Cause
    verdict: str
    reasons: tuple[str, ...]
    fixes: tuple[str, ...]
    steps: tuple[Step, ...] = field(default=())
    title: str = ""
    """The verdict's heading; empty: the catalog's title of ``cause`` (UDP's "ok" is not "Connected")."""
    meaning: str = ""
    """What the verdict means; empty: the catalog's meaning of ``cause``."""

    @property
    def ok(self) -> bool:
        return self.cause == Cause.OK


# --- Facts derived from observations (small, named, reused by rules and steps) ---------------------------


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def effective_destination(address: str) -> str:
    """Where a connection to ``address`` really goes: Linux and macOS send a connect() to the unspecified
    address (``0.0.0.0``, ``::``), the address a *server* binds, to this machine's loopback instead."""
    unspecified = {"0.0.0.0": "127.0.0.1", "::": "::1"}
    return unspecified.get(address.split("%", 1)[0], address)


def is_unspecified(address: str) -> bool:
    return address.split("%", 1)[0] in ("0.0.0.0", "::")


def family_of(address: str) -> int:
    """4 or 6 (IPv4-mapped IPv6 addresses count as 4: they carry IPv4 traffic)."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return 0
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return 4
    return parsed.version


def _unmapped(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return address


def serves(row: SocketRow, address: str) -> bool:
    """Whether a listening socket bound to ``row.local_address`` receives connections to ``address``.

    ``0.0.0.0`` takes every IPv4 address; ``::`` every IPv6 address and, with Linux's default
    ``bindv6only=0``, IPv4 too (psutil cannot see IPV6_V6ONLY, so this is the common case).
    """
    bound = _unmapped(row.local_address)
    address = effective_destination(address)
    if bound == "0.0.0.0":
        return family_of(address) == 4
    if bound == "::":
        return True
    return bound == _unmapped(address)


def rules_on_path(obs: Observations) -> tuple[FirewallRule, ...]:
    """The blocking rules of this host that can concern this attempt: to another host only the outgoing
    ones (and those of chains of unknown direction); and no outgoing rule once a raw SYN probe left this
    host (an OUTPUT rule that applied would have made its sendto() fail with EPERM)."""
    if obs.firewall is None:
        return ()
    rules = obs.firewall.blocking_for(obs.local_target)
    left = any(a.method == ProbeMethod.SYN and a.errno not in (errno_codes.EPERM, errno_codes.EACCES)
               and a.reason in (Reason.NO_RESPONSE, Reason.CONN_REFUSED, Reason.SYN_ACK)
               for a in obs.attempts)
    return tuple(rule for rule in rules if not (left and rule.direction == "out"))


def full_queue(obs: Observations) -> Listener | None:
    """A listener that serves the target and whose accept queue is full (the kernel then drops SYNs)."""
    for listener in obs.table or ():
        full = listener.queued is not None and listener.backlog is not None \
            and listener.queued > listener.backlog
        if full and any(table_serves(listener, address, obs.port) for address in obs.addresses):
            return listener
    return None


def accepts(obs: Observations, row: SocketRow, address: str) -> bool:
    """``serves``, corrected by the kernel's socket table where it knows more: an ``[::]`` listener with
    IPV6_V6ONLY does not take IPv4 (psutil cannot see the option; sock_diag can)."""
    if not serves(row, address):
        return False
    if obs.proto != Proto.TCP or obs.table is None or family_of(effective_destination(address)) != 4:
        return True
    same = [x for x in obs.table if x.port == row.local_port and x.address == row.local_address]
    return not same or any(table_serves(x, address, obs.port) for x in same)


def listening(rows: tuple[SocketRow, ...] | None, proto: Proto) -> list[SocketRow]:
    """Rows that accept traffic for ``proto``: TCP sockets in LISTEN, unconnected UDP sockets."""
    if not rows:
        return []
    if proto == Proto.TCP:
        return [r for r in rows if r.proto == "tcp" and r.state == "LISTEN"]
    return [r for r in rows if r.proto == "udp" and r.remote_address in (None, "", "0.0.0.0", "::")]


def near_ports(port: int) -> list[int]:
    """Ports a person plausibly meant instead of ``port``: typos, off-by-one, the usual swaps."""
    candidates = [port + 1, port - 1, port + 10, port - 10, port * 10]
    if port % 10 == 0:
        candidates.append(port // 10)
    candidates.extend(_COMMON_SWAPS.get(port, ()))
    return [p for p in dict.fromkeys(candidates) if 0 < p <= 65535 and p != port]


_COMMON_SWAPS: dict[int, tuple[int, ...]] = {
    80: (8080, 8000, 443),
    443: (8443, 80),
    8000: (8080, 8888, 5000, 3000),
    8080: (8000, 80, 8081, 8888),
    8443: (443,),
    8888: (8000, 8080),
    5000: (8000, 5001),
    3000: (8000, 3001),
}


def describe_row(row: SocketRow) -> str:
    who = f" (pid {row.pid} {row.process})" if row.pid is not None else ""
    return f"{row.proto} {format_endpoint(row.local_address, row.local_port or 0)}{who}"


def describe_attempt(attempt: ProbeResult) -> str:
    rtt = f", {attempt.rtt_ms:.1f} ms" if attempt.rtt_ms is not None else ""
    sender = ""
    if attempt.icmp_from is not None:
        sender = " from the target itself" if attempt.icmp_from == attempt.address else \
            f" from {attempt.icmp_from}"
    where = attempt.address or attempt.host
    said = f"{attempt.state.value} on {where} ({attempt.reason.value}{sender}{rtt})"
    return f"{said}: {attempt.detail}" if attempt.detail else said
