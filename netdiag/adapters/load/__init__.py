"""The load generator: N asyncio clients sending requests to an echo server and checking every byte back.

Why asyncio: one thread can keep thousands of connections busy, so ``--clients 1000`` costs memory, not
threads. Every client runs a closed loop (send one request, wait for its full echo, repeat), optionally
paced to a total ``--rate``. The run is bounded twice: clients stop *starting* requests at ``duration``,
and whatever is still waiting is cancelled at ``plan.hard_stop``. Nothing here prints; errors met before
the load starts (name not resolved, nothing listening, target not on this host) are raised as netdiag
failures with the catalog's explanation; errors during the load are counted by kind in the report.

This module runs the load (``resolve_target`` then ``run_load`` is all callers need); ``target`` prepares
the target (resolution, the local-only rule, the preflight), ``tcp`` and ``udp`` are the two clients, and
``clients`` what they share (the tally, the time bounds, how an error is counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from array import array
from collections.abc import Callable, Iterator

from netdiag.adapters import platform
from netdiag.core.loadplan import LoadPlan
from netdiag.core.loadstats import LatencySummary, LoadReport, merge_error_counts
from netdiag.core.targets import format_endpoint

from .clients import ClientTally
from .target import preflight, resolve_target
from .tcp import tcp_client
from .udp import udp_client

__all__ = ["resolve_target", "run_load"]


def run_load(plan: LoadPlan, *, allow_remote: bool = False,
             addresses: list[tuple[int, str]] | None = None,
             on_start: Callable[[str], None] | None = None) -> LoadReport:
    """Resolve and check (unless ``addresses`` come from ``resolve_target``), then load the target for
    ``plan.duration`` seconds and report what happened. ``on_start(target)`` is called once the target
    answered and the load begins (from then on, Ctrl-C ends the run with a report)."""
    if addresses is None:
        addresses = resolve_target(plan, allow_remote=allow_remote)
    return asyncio.run(_run(plan, addresses, on_start))


async def _run(plan: LoadPlan, addresses: list[tuple[int, str]],
               on_start: Callable[[str], None] | None) -> LoadReport:
    family, address, opened = await preflight(plan, addresses)
    tallies = [ClientTally() for _ in range(plan.clients)]
    with _interruptible() as interrupted:
        if on_start is not None:
            on_start(format_endpoint(address, plan.port))
        start = time.perf_counter()
        deadline = start + plan.duration
        client = udp_client if plan.udp else tcp_client
        tasks = [asyncio.ensure_future(client(i, plan, family, address, tallies[i], deadline))
                 for i in range(1 if opened is not None else 0, plan.clients)]
        if opened is not None:  # the check's connection is client 0's: it is not spent on a check
            tasks.insert(0, asyncio.ensure_future(
                tcp_client(0, plan, family, address, tallies[0], deadline, opened)))
        all_done = asyncio.ensure_future(asyncio.wait(tasks))
        stopper = asyncio.ensure_future(interrupted.wait())
        await asyncio.wait([all_done, stopper], timeout=plan.hard_stop, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        await asyncio.wait([all_done], timeout=1.0)
    elapsed = time.perf_counter() - start
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # a bug in a client: let it show
    samples = array("d")
    for tally in tallies:
        samples.extend(tally.latencies)
    first_errors = [t.first_error for t in tallies if t.first_error]
    return LoadReport(
        target=format_endpoint(address, plan.port),
        proto="udp" if plan.udp else "tcp",
        clients=plan.clients,
        size=plan.size,
        rate=plan.rate,
        elapsed=elapsed,
        requests=len(samples),
        bytes_sent=sum(t.bytes_sent for t in tallies),
        bytes_received=sum(t.bytes_received for t in tallies),
        connections=sum(t.connections for t in tallies),
        latency=LatencySummary.of(samples),
        errors=merge_error_counts(t.errors for t in tallies),
        first_error=first_errors[0] if first_errors else None,
        interrupted=interrupted.is_set(),
        served_clients=sum(1 for t in tallies if t.latencies),
    )


@contextlib.contextmanager
def _interruptible() -> Iterator[asyncio.Event]:
    """An event set by Ctrl-C (SIGINT) during the load, so the run stops early and still reports, like
    ``ping``. Outside the main thread (no signal handlers there) the event simply never fires."""
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    undo = platform.on_stop_signals(loop, interrupted.set, signals=("SIGINT",))
    try:
        yield interrupted
    finally:
        undo()
