"""Echo throughput and idle connections: `netdiag listen --mode echo` against a uvloop reference server.

Run on demand (never in CI): ``./dev bench echo`` (``--help`` for the knobs). Loopback only.

What it measures, in one run so that the ratios compare like with like on a busy machine:

1. Ping-pong throughput with 1 KiB messages, at 100 and 1,000 concurrent connections, a few seconds
   each, against three servers: the reference (an asyncio ``Protocol`` echo server on uvloop, started
   by this script), netdiag's asyncio engine, and netdiag's thread engine. Each connection sends 1 KiB,
   waits for the whole echo, and sends again.
2. 10,000 idle connections held by the asyncio engine, and the server's RSS (after one byte echoed on
   every connection, so each one has really been accepted and served).

The load client must not be the bottleneck: it runs in several worker processes, each an event loop on
uvloop with ``Protocol`` callbacks (no streams, no per-message coroutines). Every load is bounded in
time (``--duration``, at most 30 s; at most 10 ``--rounds``) and in count (at most ``--max-requests`` per
connection, and at most 10,000 connections). ``--quick`` is a smoke run (a few seconds in all) that
checks the bench works; its figures mean nothing.

Targets (issue 7): asyncio engine >= 0.9x the uvloop reference and >= 1.6x the thread engine at 1,000
clients; 10,000 idle connections at < 150 MB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import queue
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    Results = Queue[dict[str, Any]]  # what each load worker reports: figures, or "error"

HOST = "127.0.0.1"  # loopback only, by design
MESSAGE_SIZE = 1024
MAX_CONNECTIONS = 10_000
MAX_DURATION = 30.0
MAX_ROUNDS = 10
TARGET_VS_REFERENCE = 0.9
TARGET_VS_THREADS = 1.6
TARGET_IDLE_RSS_MB = 150.0


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (10,000 sockets need it); return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- the reference server ---------------------------------------------------------------------------------


class _EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


def reference_server() -> None:
    """The reference: the textbook asyncio Protocol echo server, on uvloop."""
    import uvloop

    raise_fd_limit()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_EchoProtocol, HOST, 0, backlog=4096)
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"event": "listening", "host": HOST, "port": port}), flush=True)
        await server.serve_forever()

    uvloop.run(main())


# --- servers under test ---------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    port: int


@contextmanager
def running(name: str, argv: list[str]) -> Iterator[Server]:
    """Start a server that prints a JSON ``listening`` line first; stop it (SIGTERM) at the end."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if not first:
            raise SystemExit(f"{name}: the server did not start ({' '.join(argv)})")
        yield Server(name, process, int(json.loads(first)["port"]))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


SERVERS = ("uvloop reference", "netdiag asyncio", "netdiag threads")


def server_commands() -> dict[str, list[str]]:
    netdiag = [sys.executable, "-m", "netdiag", "listen", f"{HOST}:0", "--mode", "echo", "--log", "json",
               "--quiet"]
    return {
        "uvloop reference": [sys.executable, __file__, "--reference-server"],
        "netdiag asyncio": [*netdiag, "--engine", "asyncio"],
        "netdiag threads": [*netdiag, "--engine", "threads"],
    }


# --- the load client ------------------------------------------------------------------------------------


class _PingPong(asyncio.Protocol):
    """One connection: send 1 KiB, wait for all of it to come back, count, send again."""

    def __init__(self, shared: _WorkerState) -> None:
        self.shared = shared
        self.pending = 0
        self.done = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def start(self) -> None:
        self.pending = MESSAGE_SIZE
        self.transport.write(self.shared.message)

    def data_received(self, data: bytes) -> None:
        self.pending -= len(data)
        if self.pending > 0:
            return
        self.done += 1
        if self.shared.running and self.done < self.shared.max_requests:
            self.start()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.shared.running and exc is not None:
            self.shared.errors += 1


@dataclass
class _WorkerState:
    message: bytes
    max_requests: int
    running: bool = False
    errors: int = 0


def load_worker(port: int, connections: int, duration: float, max_requests: int, idle: bool,
                ready: threading.Barrier, results: Results) -> None:
    """One worker process: open ``connections``, wait for every worker, run ``duration`` seconds."""
    import uvloop

    raise_fd_limit()

    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        state = _WorkerState(message=b"x" * MESSAGE_SIZE, max_requests=max_requests)
        protocols: list[_PingPong] = []
        for _ in range(connections):
            _, protocol = await loop.create_connection(lambda: _PingPong(state), HOST, port)
            protocols.append(protocol)
        await loop.run_in_executor(None, ready.wait)
        if idle:  # one byte each, echoed: proves every connection was accepted and served
            for protocol in protocols:
                protocol.pending = 1
                protocol.transport.write(b"x")
            deadline = time.monotonic() + 60
            while any(p.done == 0 for p in protocols) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            served = sum(1 for p in protocols if p.done)
            await loop.run_in_executor(None, ready.wait)  # the parent measures RSS now
            await loop.run_in_executor(None, ready.wait)  # ... and says when to close
            for protocol in protocols:
                protocol.transport.close()
            return {"served": served, "requests": 0.0, "seconds": 0.0, "errors": state.errors}
        state.running = True
        started = time.perf_counter()
        for protocol in protocols:
            protocol.start()
        await asyncio.sleep(duration)
        state.running = False
        elapsed = time.perf_counter() - started
        total = sum(p.done for p in protocols)
        for protocol in protocols:
            protocol.transport.close()
        return {"requests": float(total), "seconds": elapsed, "errors": state.errors, "served": 0.0}

    try:
        results.put(uvloop.run(main()))
    except OSError as exc:
        results.put({"error": f"{type(exc).__name__}: {exc}"})
        ready.abort()
    except threading.BrokenBarrierError:  # another worker failed, or the parent gave up waiting
        results.put({"error": "the run was aborted (another load worker failed or timed out)"})


def run_load(port: int, connections: int, duration: float, workers: int, max_requests: int,
             idle: bool = False, server_pid: int | None = None) -> dict[str, float]:
    """Ping-pong (or idle) load from ``workers`` processes; requests/s, or the server's RSS when idle."""
    ctx = mp.get_context("fork")
    shares = [connections // workers + (1 if i < connections % workers else 0) for i in range(workers)]
    shares = [share for share in shares if share]
    ready = ctx.Barrier(len(shares) + 1)
    results: Results = ctx.Queue()
    procs = [ctx.Process(target=load_worker,
                         args=(port, share, duration, max_requests, idle, ready, results))
             for share in shares]
    for proc in procs:
        proc.start()
    rss_mb = 0.0
    try:
        ready.wait(timeout=120)  # everyone connected
        if idle:
            ready.wait(timeout=120)  # every connection served once
            rss_mb = process_rss_mb(server_pid) if server_pid else 0.0
            ready.wait(timeout=120)
    except threading.BrokenBarrierError:  # a worker failed: its error is in the results
        ready.abort()
    try:
        outcomes = [results.get(timeout=duration + 180) for _ in procs]
    except queue.Empty:
        outcomes = [{"error": "a load worker gave no result within its time limit"}]
    for proc in procs:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
    failed = [o["error"] for o in outcomes if "error" in o]
    if failed:
        raise SystemExit(f"load client failed: {failed[0]}")
    requests = sum(o["requests"] for o in outcomes)
    seconds = max(o["seconds"] for o in outcomes)
    return {"connections": connections, "requests": requests,
            "requests_per_s": requests / seconds if seconds else 0.0,
            "errors": sum(o["errors"] for o in outcomes), "served": sum(o["served"] for o in outcomes),
            "rss_mb": rss_mb}


def process_rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)


# --- the run --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per load (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="load client processes (default 2)")
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 1000],
                        help="concurrent connections per load (default 100 1000)")
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections to hold (0: skip)")
    parser.add_argument("--max-requests", type=int, default=1_000_000,
                        help="bound on round trips per connection")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run that checks the bench works (0.5 s loads, 1 round, 10 and 50 "
                             "clients, 200 idle); its figures mean nothing")
    parser.add_argument("--reference-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_server:
        reference_server()
        return
    if args.quick:
        args.duration, args.rounds, args.clients, args.idle = 0.5, 1, [10, 50], 200
    if not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds must be between 1 and {MAX_ROUNDS}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    duration = min(args.duration, MAX_DURATION)
    clients = [min(c, MAX_CONNECTIONS) for c in args.clients]
    raise_fd_limit()
    print(f"echo bench: {MESSAGE_SIZE} B ping-pong, {duration:g} s per load, {args.rounds} rounds, "
          f"clients {clients}, "
          f"{args.workers} load worker process(es), {os.cpu_count()} CPU(s), "
          f"load average {os.getloadavg()[0]:.2f}"
          + ("\n--quick: a smoke run that checks the bench works; its figures mean nothing" if args.quick
             else ""), flush=True)

    # All three servers run side by side and the loads are interleaved round by round (reference,
    # asyncio, threads, then again), so a burst of other work on the machine hits every server alike;
    # each figure is the median of the rounds.
    samples: dict[str, dict[int, list[float]]] = {name: {c: [] for c in clients} for name in SERVERS}
    with ExitStack() as stack:
        servers = [stack.enter_context(running(name, argv)) for name, argv in server_commands().items()]
        for round_number in range(1, args.rounds + 1):
            for count in clients:
                for server in servers:
                    result = run_load(server.port, count, duration, args.workers, args.max_requests)
                    samples[server.name][count].append(result["requests_per_s"])
                    print(f"  round {round_number}  {server.name:18} {count:6,} clients "
                          f"{result['requests_per_s']:>10,.0f} req/s  ({result['requests']:,.0f} requests, "
                          f"{result['errors']:.0f} errors)", flush=True)
    throughput = {name: {c: statistics.median(v) for c, v in per.items()} for name, per in samples.items()}
    print("\nmedian requests/s:")
    for name, per in throughput.items():
        print(f"  {name:18} " + "  ".join(f"{c:6,} clients {v:>10,.0f}" for c, v in per.items()))

    idle: dict[str, float] = {}
    if args.idle:
        with running("netdiag asyncio", server_commands()["netdiag asyncio"]) as server:
            baseline = process_rss_mb(server.process.pid)
            result = run_load(server.port, min(args.idle, MAX_CONNECTIONS), 0, args.workers, 1, idle=True,
                              server_pid=server.process.pid)
            idle = {"connections": result["connections"], "served": result["served"],
                    "rss_mb": result["rss_mb"], "baseline_rss_mb": baseline}
            print(f"  idle: {result['served']:,.0f} of {result['connections']:,.0f} connections served, "
                  f"server RSS {result['rss_mb']:.1f} MB (at start {baseline:.1f} MB)", flush=True)

    report(throughput, idle, clients)
    if args.json:
        print(json.dumps({"throughput": throughput, "idle": idle}, indent=2))


def report(throughput: dict[str, dict[int, float]], idle: dict[str, float], clients: list[int]) -> None:
    print("\nratios (asyncio engine vs reference / vs thread engine):")
    for count in clients:
        aio = throughput["netdiag asyncio"][count]
        ref = throughput["uvloop reference"][count]
        thr = throughput["netdiag threads"][count]
        vs_ref = aio / ref if ref else 0.0
        vs_thr = aio / thr if thr else 0.0
        verdict = ""
        if count == 1000:
            ok = vs_ref >= TARGET_VS_REFERENCE and vs_thr >= TARGET_VS_THREADS
            verdict = (f"   targets >= {TARGET_VS_REFERENCE}x and >= {TARGET_VS_THREADS}x: "
                       f"{'met' if ok else 'MISSED'}")
        print(f"  {count:6,} clients: {vs_ref:.2f}x reference, {vs_thr:.2f}x threads{verdict}")
    if idle:
        ok = idle["served"] == idle["connections"] and idle["rss_mb"] < TARGET_IDLE_RSS_MB
        print(f"  idle {idle['connections']:,.0f}: {idle['rss_mb']:.1f} MB RSS "
              f"(target < {TARGET_IDLE_RSS_MB:.0f} MB: {'met' if ok else 'MISSED'})")


if __name__ == "__main__":
    main()
