"""Soak and shutdown: `netdiag listen --mode echo` through 10,000 short connections, then SIGTERM.

Run on demand (never in CI): ``./dev bench soak`` (``--help`` for the knobs). Loopback only.

What it measures, per engine (asyncio and threads by default):

1. Soak: ``--rounds`` rounds of ``--per-round`` connections (default 20 x 500 = 10,000) spread over
   ``--duration`` seconds (default 60). In each round every connection is opened at once, sends
   ``--exchanges`` requests of ``--size`` bytes, checks every echoed byte, and closes. After each round,
   once the server has closed its side (its fd count settles), the server's RSS, fds and threads are read
   with psutil. Targets (issue 6): RSS after the last round within 10% of RSS after the first round, and
   no fd growth (the fd count after the last round equals the count after the first).
2. Shutdown: ``--hold`` (default 1,000) connections are opened and left connected, then SIGTERM; the time
   until the server process exits and its exit code are recorded. Target: within 1 s, exit 0.
3. Open-files limits: for each of ``--open-files`` (default 8, 13, 18, 64, 256, 1024) a server is started
   with that RLIMIT_NOFILE (soft and hard, as ``ulimit -n`` does). Either it refuses to start with one
   sentence and exit 1 (no traceback, no abort), or it says how many clients it serves; then that many
   clients connect at once, each gets one verified echo, one more is told the server is busy, and SIGTERM
   must end it with exit 0. Targets: no traceback or abort at any limit; every client it promised served.

Bounded: at most 50 rounds, 2,000 connections per round, 300 s of soak, 5,000 held connections; a round
that is not done 30 s after its start is abandoned and counted as failures; every wait has a deadline.
``--quick`` is a smoke run (2 rounds of 50, 20 held) that checks the bench works; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

HOST = "127.0.0.1"  # loopback only, by design
MAX_ROUNDS = 50
MAX_PER_ROUND = 2_000
MAX_DURATION = 300.0
MAX_HOLD = 5_000
MAX_OPEN_FILES = 4_096
ROUND_TIMEOUT = 30.0
SETTLE_TIMEOUT = 10.0
TARGET_RSS_GROWTH = 0.10
TARGET_SHUTDOWN_S = 1.0


def raise_fd_limit(needed: int) -> None:
    """Let this process (and the server it starts) hold ``needed`` sockets, up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int

    @property
    def resources(self) -> tuple[int, int, int]:
        """(rss bytes, fds, threads) of the server process."""
        proc = psutil.Process(self.process.pid)
        with proc.oneshot():
            return proc.memory_info().rss, proc.num_fds(), proc.num_threads()


@contextmanager
def echo_server(engine: str, mode: str = "echo") -> Iterator[Server]:
    """``netdiag listen 127.0.0.1:0 --mode MODE --quiet --log json``: quiet, so the log costs nothing."""
    argv = [sys.executable, "-m", "netdiag", "listen", f"{HOST}:0", "--mode", mode, "--engine", engine,
            "--log", "json", "--quiet"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "NO_COLOR": "1"})
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline() or "{}")
        if first.get("event") != "listening":
            raise SystemExit(f"netdiag listen did not start: {first}")
        yield Server(process, int(first["port"]))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@dataclass
class RoundResult:
    connections: int
    exchanges_ok: int
    failures: int
    seconds: float
    rss: int
    fds: int
    threads: int


async def use_one_connection(port: int, payload: bytes, exchanges: int) -> tuple[int, int]:
    """Open, ``exchanges`` verified echoes, close. Returns (exchanges ok, failures)."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return 0, 1
    ok = 0
    try:
        for _ in range(exchanges):
            writer.write(payload)
            if await reader.readexactly(len(payload)) != payload:
                return ok, 1
            ok += 1
    except (OSError, asyncio.IncompleteReadError):
        return ok, 1
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()
    return ok, 0


async def one_round(port: int, count: int, payload: bytes, exchanges: int) -> tuple[int, int]:
    tasks = [asyncio.ensure_future(use_one_connection(port, payload, exchanges)) for _ in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=ROUND_TIMEOUT)
    for task in pending:
        task.cancel()
    results = [task.result() for task in done]
    return sum(ok for ok, _ in results), sum(bad for _, bad in results) + len(pending)


def settle(server: Server, fds_at_rest: int) -> tuple[int, int, int]:
    """Wait (deadline) until the server holds no more fds than at rest; return its resources then."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        now = server.resources
        if now[1] <= fds_at_rest or time.monotonic() > deadline:
            return now
        time.sleep(0.05)  # polling the server's fd count, with a deadline


def soak(server: Server, args: argparse.Namespace) -> list[RoundResult]:
    payload = (b"soak " * (args.size // 5 + 1))[: args.size - 1] + b"\n"
    # One warm-up connection first: uvloop's libuv opens a reserve descriptor with the first connection
    # it takes, once per process; "at rest" is the count after it.
    asyncio.run(one_round(server.port, 1, payload, 1))
    fds_at_rest = server.resources[1]
    results = []
    began = time.monotonic()
    for index in range(args.rounds):
        start_at = began + index * args.duration / args.rounds
        time.sleep(max(0.0, start_at - time.monotonic()))  # the soak's own pace, spreading the rounds
        started = time.monotonic()
        ok, failures = asyncio.run(one_round(server.port, args.per_round, payload, args.exchanges))
        seconds = time.monotonic() - started
        rss, fds, threads = settle(server, fds_at_rest)
        results.append(RoundResult(args.per_round, ok, failures, seconds, rss, fds, threads))
        if time.monotonic() - began > args.duration + ROUND_TIMEOUT:
            break
    return results


@dataclass
class ShutdownResult:
    held: int
    seconds: float
    exit_code: int | None
    every_client_saw_the_end: bool


def shutdown_with_clients(server: Server, hold: int) -> ShutdownResult:
    with ExitStack() as stack:
        clients = []
        for _ in range(hold):
            sock = socket.create_connection((HOST, server.port), timeout=5)
            stack.callback(sock.close)
            clients.append(sock)
        for sock in clients:  # one echo each: every connection has really been accepted and served
            sock.sendall(b"x")
        for sock in clients:
            sock.recv(1)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.monotonic() - started
        ended = 0
        for sock in clients:
            try:
                ended += sock.recv(1) == b""
            except OSError:  # reset: also an end
                ended += 1
        return ShutdownResult(hold, seconds, code, ended == hold)


@dataclass
class LimitResult:
    open_files: int
    started: bool
    exit_code: int | None
    clients_promised: int
    clients_served: int
    extra_told_busy: bool
    traceback: bool
    said: str

    @property
    def ok(self) -> bool:
        if not self.started:
            return self.exit_code == 1 and not self.traceback and "Cannot serve" in self.said
        return (self.exit_code == 0 and not self.traceback and self.clients_promised >= 1
                and self.clients_served == self.clients_promised and self.extra_told_busy)


def under_open_files_limit(engine: str, limit: int) -> LimitResult:
    """Start ``netdiag listen --mode echo`` with RLIMIT_NOFILE ``limit``; serve what it promises."""
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    argv = [sys.executable, "-m", "netdiag", "listen", f"{HOST}:0", "--mode", "echo", "--engine", engine,
            "--log", "json", "--quiet"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "NO_COLOR": "1"}, preexec_fn=lower)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    if not first:
        stderr = process.stderr.read()
        code = process.wait(timeout=10)
        return LimitResult(limit, False, code, 0, 0, False, "Traceback" in stderr, stderr.strip())
    port = int(json.loads(first)["port"])
    os.set_blocking(process.stderr.fileno(), False)
    warning = ""
    deadline = time.monotonic() + 5
    while "serving at most" not in warning and time.monotonic() < deadline:  # printed before listening
        warning += process.stderr.read() or ""
    found = re.search(r"serving at most (\d+)", warning)
    promised = int(found.group(1)) if found else 0
    served, busy = 0, False
    with ExitStack() as stack:
        try:
            clients = [stack.enter_context(socket.create_connection((HOST, port), timeout=5))
                       for _ in range(promised)]
            for index, sock in enumerate(clients):
                sock.sendall(b"%d\n" % index)
            for index, sock in enumerate(clients):
                served += sock.recv(64) == b"%d\n" % index
            with socket.create_connection((HOST, port), timeout=5) as extra:
                busy = extra.recv(200).startswith(b"server busy")
        except OSError:
            pass
    process.send_signal(signal.SIGTERM)
    try:
        code: int | None = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        code = None
    os.set_blocking(process.stderr.fileno(), True)
    stderr = warning + process.stderr.read()
    return LimitResult(limit, True, code, promised, served, busy, "Traceback" in stderr,
                       warning.strip()[:160])


@dataclass
class EngineReport:
    engine: str
    rounds: list[RoundResult] = field(default_factory=list)
    shutdown: ShutdownResult | None = None
    limits: list[LimitResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        first, last = self.rounds[0], self.rounds[-1]
        growth = (last.rss - first.rss) / first.rss
        return {
            "engine": self.engine,
            "connections": sum(r.connections for r in self.rounds),
            "exchanges_ok": sum(r.exchanges_ok for r in self.rounds),
            "failures": sum(r.failures for r in self.rounds),
            "rounds": len(self.rounds),
            "slowest_round_s": round(max(r.seconds for r in self.rounds), 3),
            "rss_first_round_mb": round(first.rss / 1e6, 1),
            "rss_last_round_mb": round(last.rss / 1e6, 1),
            "rss_max_mb": round(max(r.rss for r in self.rounds) / 1e6, 1),
            "rss_growth_pct": round(growth * 100, 1),
            "rss_by_round_mb": [round(r.rss / 1e6, 1) for r in self.rounds],
            "fds_first_round": first.fds,
            "fds_last_round": last.fds,
            "threads_first_round": first.threads,
            "threads_last_round": last.threads,
            "rss_target_met": abs(growth) <= TARGET_RSS_GROWTH,
            "fd_target_met": last.fds <= first.fds,
            "shutdown": asdict(self.shutdown) if self.shutdown else None,
            "shutdown_target_met": bool(self.shutdown and self.shutdown.exit_code == 0
                                        and self.shutdown.seconds <= TARGET_SHUTDOWN_S),
            "open_files": [asdict(r) for r in self.limits],
            "open_files_target_met": all(r.ok for r in self.limits),
        }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["asyncio", "threads"], action="append",
                        help="engine(s) to soak (default: both)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=500)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds the rounds are spread over")
    parser.add_argument("--exchanges", type=int, default=3, help="verified echoes per connection")
    parser.add_argument("--size", type=int, default=256, help="bytes per request")
    parser.add_argument("--hold", type=int, default=1000, help="connections held during the SIGTERM")
    parser.add_argument("--open-files", default="8,13,18,64,256,1024",
                        help="RLIMIT_NOFILE values to start a server under (comma-separated; empty: skip)")
    parser.add_argument("--quick", action="store_true", help="smoke run: the figures mean nothing")
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    args = parser.parse_args(argv)
    try:
        args.open_files = [int(n) for n in args.open_files.split(",") if n.strip()]
    except ValueError:
        parser.error("--open-files takes numbers separated by commas")
    if any(not 1 <= n <= MAX_OPEN_FILES for n in args.open_files):
        parser.error(f"--open-files values go from 1 to {MAX_OPEN_FILES}")
    if args.quick:
        args.rounds, args.per_round, args.duration, args.hold = 2, 50, 1.0, 20
    if not (1 <= args.rounds <= MAX_ROUNDS and 1 <= args.per_round <= MAX_PER_ROUND
            and 0 < args.duration <= MAX_DURATION and 0 <= args.hold <= MAX_HOLD and args.size >= 2
            and 1 <= args.exchanges <= 100):
        parser.error("a bound is exceeded (rounds <= 50, per-round <= 2000, duration <= 300, hold <= 5000)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit(2 * max(args.per_round, args.hold) + 512)
    reports = []
    for engine in args.engine or ["asyncio", "threads"]:
        report = EngineReport(engine)
        with echo_server(engine) as server:
            report.rounds = soak(server, args)
            if args.hold:
                report.shutdown = shutdown_with_clients(server, args.hold)
        report.limits = [under_open_files_limit(engine, limit) for limit in args.open_files]
        reports.append(report.summary())
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"loadavg": load, "engines": reports}, indent=2))
    else:
        for s in reports:
            stop = s["shutdown"]
            print(f"{s['engine']}: {s['connections']:,} connections in {s['rounds']} rounds, "
                  f"{s['exchanges_ok']:,} verified echoes, {s['failures']} failures; "
                  f"RSS {s['rss_first_round_mb']} -> {s['rss_last_round_mb']} MB "
                  f"({s['rss_growth_pct']:+.1f}%, max {s['rss_max_mb']} MB); "
                  f"fds {s['fds_first_round']} -> {s['fds_last_round']}; "
                  f"threads {s['threads_first_round']} -> {s['threads_last_round']}")
            print(f"    RSS by round (MB): {' '.join(str(mb) for mb in s['rss_by_round_mb'])}")
            if stop:
                print(f"    SIGTERM with {stop['held']:,} clients: exit {stop['exit_code']} after "
                      f"{stop['seconds']:.3f} s; every client saw the end: "
                      f"{stop['every_client_saw_the_end']}")
            for limit in s["open_files"]:
                if limit["started"]:
                    print(f"    ulimit -n {limit['open_files']}: serves {limit['clients_promised']} "
                          f"client(s), {limit['clients_served']} echoed at once, the next told busy: "
                          f"{limit['extra_told_busy']}; exit {limit['exit_code']}, traceback: "
                          f"{limit['traceback']}")
                else:
                    print(f"    ulimit -n {limit['open_files']}: refused to start, exit "
                          f"{limit['exit_code']}, traceback: {limit['traceback']}: {limit['said'][:110]}...")
        print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    ok = all(s["failures"] == 0 and s["rss_target_met"] and s["fd_target_met"]
             and s["open_files_target_met"] for s in reports)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
