"""Probe answers read from this host's socket table: for a port of this host, the kernel's list of
listeners says open or closed without sending anything (so a one-client server is not served to us).

Which listener serves which target is pure: ``netdiag.core.socket_table``.
"""

from __future__ import annotations

from collections.abc import Sequence

from netdiag.adapters.listing.listeners import tcp_listeners, udp_receivers
from netdiag.adapters.probing.engine import Outcome, ProbeJob
from netdiag.core.probe import PortState, Reason
from netdiag.core.socket_table import Listener, table_outcome


def read_table(jobs: Sequence[ProbeJob], listeners: list[Listener] | None = None, *,
               udp: bool = False) -> list[Outcome]:
    """The outcome of each job (ports of this host) from the socket table, read once for all of them."""
    if listeners is None:
        listeners = udp_receivers() if udp else tcp_listeners()
    by_port: dict[int, list[Listener]] = {}
    for listener in listeners:
        by_port.setdefault(listener.port, []).append(listener)
    refused: Outcome = (PortState.CLOSED, Reason.NO_LISTENER, None, None, None)
    outcomes: list[Outcome] = []
    for job in jobs:
        candidates = by_port.get(job.port)
        if not candidates:  # the common case of a big scan: no listener on that port at all
            outcomes.append(refused)
            continue
        state, reason, _detail = table_outcome(job.address, job.port, candidates, udp=udp)
        outcomes.append((state, reason, None, None, None))
    return outcomes


def details(jobs: Sequence[ProbeJob], listeners: list[Listener], *, udp: bool = False) -> list[str | None]:
    """The detail sentence of each job's answer (the listener, its accept queue), for small probes."""
    return [table_outcome(job.address, job.port, [x for x in listeners if x.port == job.port], udp=udp)[2]
            for job in jobs]
