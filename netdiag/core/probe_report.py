"""From probe results to what the user sees: which rows to show, the summary of the rest, the exit code.

A 65,535-port scan has a few interesting rows and tens of thousands of identical "closed" ones, so, like
nmap's "Not shown: 65532 closed tcp ports (conn-refused)", big uniform groups of a multi-port target are
counted instead of listed (``--all`` lists everything). Open ports are always listed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from netdiag.core.exit_status import ExitStatus
from netdiag.core.probe import PortState, ProbeMethod, ProbeResult, Proto, Reason
from netdiag.core.targets import format_endpoint

LIST_EVERYTHING_UP_TO = 25  # a target with at most this many ports is always listed in full
SMALL_GROUP = 10  # groups this small stay listed even in a big scan: they are the interesting ones


class HiddenGroup(NamedTuple):
    """Rows left out of the listing: ``port_count`` ports of one address with the same state and reason."""

    host: str
    address: str | None
    proto: Proto
    state: PortState
    reason: Reason
    port_count: int

    def sentence(self) -> str:
        where = self.host if self.address in (None, self.host) else f"{self.host} ({self.address})"
        return (f"Not shown: {self.port_count} {self.state.value} {self.proto.value} ports "
                f"({self.reason.value}) on {where}; --all lists them.")


class ProbeReport(NamedTuple):
    shown: list[ProbeResult]
    hidden: list[HiddenGroup]


def summarize(results: Sequence[ProbeResult], *, show_all: bool = False) -> ProbeReport:
    """Split ``results`` into rows to list and groups to count (see the module docstring)."""
    if show_all:
        return ProbeReport(list(results), [])
    keys = [(r.host, r.address, r.proto, r.state, r.reason) for r in results]
    groups = Counter(keys)
    per_address: Counter[tuple[str, str | None]] = Counter()
    for key, count in groups.items():
        per_address[(key[0], key[1])] += count
    hidden_keys = {
        key for key, count in groups.items()
        if key[3] != PortState.OPEN and count > SMALL_GROUP
        and per_address[(key[0], key[1])] > LIST_EVERYTHING_UP_TO
    }
    if not hidden_keys:
        return ProbeReport(list(results), [])
    shown = [r for r, key in zip(results, keys, strict=True) if key not in hidden_keys]
    hidden = [HiddenGroup(*key, port_count=groups[key]) for key in groups if key in hidden_keys]
    return ProbeReport(shown, hidden)


def sort_results(results: Sequence[ProbeResult]) -> list[ProbeResult]:
    """Per host (in the order given), per address (in the order resolved), ports in numerical order:
    results arrive in completion order, and ``22,8000,80`` reads better as 22, 80, 8000."""
    hosts: dict[str, int] = {}
    addresses: dict[tuple[str, str | None], int] = {}
    for result in results:
        hosts.setdefault(result.host, len(hosts))
        addresses.setdefault((result.host, result.address), len(addresses))
    return sorted(results, key=lambda r: (hosts[r.host], addresses[(r.host, r.address)], r.port))


def probe_exit_status(results: Sequence[ProbeResult]) -> ExitStatus:
    """0 when every probed port is open (and there was at least one), 1 otherwise."""
    if results and all(r.state == PortState.OPEN for r in results):
        return ExitStatus.OK
    return ExitStatus.NETWORK_SAID_NO


def served_by_connecting(results: Sequence[ProbeResult]) -> list[ProbeResult]:
    """Open ports that were found by connecting: a server that serves one client may have served us."""
    return [r for r in results if r.state == PortState.OPEN and r.method == ProbeMethod.CONNECT
            and r.proto == Proto.TCP]


def connect_note(results: Sequence[ProbeResult], *, asked: bool, syn_limit: int | None = None) -> str | None:
    """The one sentence saying a real connection was made, when one reached a server (None otherwise).
    ``syn_limit``: scans of at least this many connect-probed ports use the connect scanner for speed."""
    served = served_by_connecting(results)
    if not served:
        return None
    first = served[0]
    where = format_endpoint(first.address, first.port)
    more = f" (and {len(served) - 1} more)" if len(served) > 1 else ""
    connected = sum(1 for r in results if r.method == ProbeMethod.CONNECT and r.proto == Proto.TCP)
    if asked:
        why = "as --connect asked"
    elif syn_limit is not None and connected >= syn_limit:
        why = f"since a scan of {connected} ports uses the connect scanner (faster than SYN probes)"
    else:
        why = "no raw socket here for a half-open SYN probe (root or CAP_NET_RAW gives one)"
    return (f"note: {where}{more} was probed with a real connection, {why}, closed gracefully; "
            "a server that serves one client may just have served it (and exited).")

