"""Chat scale: N members join a `netdiag listen --mode chat` room, one message is broadcast, then SIGTERM.

Run on demand (never in CI): ``./dev bench chat_scale`` (``--help`` for the knobs). Loopback only.

Per engine (asyncio and threads by default) and per room size (``--members``, default 300, 800, 1,500),
a fresh quiet chat server (``--log-events`` keeps its JSON log on, drained by the bench) gets:

1. **Join**: N members connect, at most ``CONNECTING`` at a time. Each join is told to everyone already
   in the room, so member k reads its welcome and N - k join notices (N^2 / 2 lines in all). Measured:
   from the first connect until every member has read every notice it is owed.
2. **Broadcast**: the first member sends one line; measured until every other member has it.
3. **SIGTERM**: measured from the signal until the server process has exited (target: within 1 s at
   any size, exit 0); every member must have read ``* server shutting down, goodbye`` and EOF.

Also read with psutil: the server's RSS and threads at rest (listening, nobody connected) and once
everyone has joined. The members are asyncio Protocols in this one process (no thread per member here).

Bounded: at most 5,000 members; the join is abandoned after ``--join-timeout`` s (default 120), the
broadcast after 30 s, and the server killed 15 s after SIGTERM (reported as not exiting).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import psutil

HOST = "127.0.0.1"  # loopback only, by design
MAX_MEMBERS = 5_000
CONNECTING = 200
"""Connections opened at once (the rest wait their turn): a burst, but within the listen backlog."""
BROADCAST_TIMEOUT = 30.0
EXIT_TIMEOUT = 15.0
GOODBYE = b"* server shutting down, goodbye\n"
TARGET_SHUTDOWN_S = 1.0


class Member(asyncio.Protocol):
    """One chat member: counts the lines it is sent, notes the broadcast, the goodbye and EOF.

    Cheap on purpose (a count of newlines and two substring searches per chunk): the room sends about
    N^2 / 2 lines during the join, and this process must not be what the bench measures.
    """

    def __init__(self, room: Room) -> None:
        loop = asyncio.get_running_loop()
        self.room = room
        self.tail = b""  # the unfinished last line of what arrived
        self.lines = 0
        self.joins_owed = -1  # known from the welcome: "* welcome userK, K here; ..."
        self.welcome = loop.create_future()
        self.joined = self.got_broadcast = self.got_goodbye = False
        self.ended = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        chunk = self.tail + data
        self.lines += chunk.count(b"\n")
        self.tail = chunk[chunk.rfind(b"\n") + 1:]
        room = self.room
        if not self.welcome.done() and self.lines:
            here = chunk.split(b"\n", 1)[0].split(b", ", 1)[1].split()[0]
            self.joins_owed = room.size - int(here)
            self.welcome.set_result(None)
        if not self.joined and self.welcome.done() and self.lines >= 1 + self.joins_owed:
            self.joined = True
            room.joined += 1
        if not self.got_broadcast and room.message in chunk:
            self.got_broadcast = True
            room.heard += 1
        if not self.got_goodbye and GOODBYE in chunk:
            self.got_goodbye = True
        room.check()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


class Room:
    def __init__(self, size: int) -> None:
        self.size = size
        self.members: list[Member] = []
        self.message = b"user1: hello from the first member\n"
        self.joined = self.heard = 0
        self.all_joined = asyncio.Event()
        self.all_heard = asyncio.Event()

    def check(self) -> None:
        """Counters, not a look at every member: this runs for every chunk any member reads."""
        if self.joined >= self.size:
            self.all_joined.set()
        if self.heard >= self.size - 1:
            self.all_heard.set()


@dataclass
class Result:
    engine: str
    members: int
    log_events: bool
    joined: int
    join_s: float | None
    broadcast_s: float | None
    shutdown_s: float | None
    exit_code: int | None
    told_goodbye: int
    saw_eof: int
    rss_rest_mb: float
    rss_joined_mb: float
    threads_rest: int
    threads_joined: int
    server_cpu_join_s: float
    members_cpu_join_s: float


class ServerProcess:
    """``netdiag listen 127.0.0.1:0 --mode chat --log json`` (``--quiet`` unless ``log_events``)."""

    def __init__(self, engine: str, log_events: bool) -> None:
        argv = [sys.executable, "-m", "netdiag", "listen", f"{HOST}:0", "--mode", "chat", "--engine",
                engine, "--log", "json"] + ([] if log_events else ["--quiet"])
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env={**os.environ, "NO_COLOR": "1"})
        assert self.process.stdout is not None
        first = json.loads(self.process.stdout.readline() or b"{}")
        if first.get("event") != "listening":
            self.process.kill()
            raise SystemExit(f"netdiag listen did not start: {first}")
        self.port = int(first["port"])
        # The log must be read, or a full pipe would stall the server: drain it on a thread.
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drain.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        while self.process.stdout.read(1 << 16):
            pass

    def resources(self) -> tuple[float, int, float]:
        """RSS (MB), threads and CPU time (user + system, s) of the server process."""
        proc = psutil.Process(self.process.pid)
        with proc.oneshot():
            cpu = proc.cpu_times()
            return proc.memory_info().rss / 1e6, proc.num_threads(), cpu.user + cpu.system

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.drain.join(timeout=5)


async def run_room(engine: str, size: int, log_events: bool, join_timeout: float) -> Result:
    loop = asyncio.get_running_loop()
    server = ServerProcess(engine, log_events)
    try:
        rss_rest, threads_rest, cpu_rest = server.resources()
        own_cpu = time.process_time()
        room = Room(size)
        gate = asyncio.Semaphore(CONNECTING)

        async def join() -> None:
            async with gate:
                _, member = await loop.create_connection(lambda: Member(room), HOST, server.port)
                room.members.append(member)
                await member.welcome  # a connection in flight until the server has taken it in

        began = time.monotonic()
        join_s: float | None = None
        try:
            await asyncio.wait_for(asyncio.gather(*(join() for _ in range(size))), join_timeout)
            room.check()
            left = join_timeout - (time.monotonic() - began)
            await asyncio.wait_for(room.all_joined.wait(), max(0.1, left))
            join_s = time.monotonic() - began
        except asyncio.TimeoutError:
            pass
        rss_joined, threads_joined, cpu_joined = server.resources()
        own_cpu = time.process_time() - own_cpu
        broadcast_s: float | None = None
        if join_s is not None and size > 1:
            room.members.sort(key=lambda m: m.joins_owed, reverse=True)  # user1 first: the sender
            sent = time.monotonic()
            assert room.members[0].transport is not None
            room.members[0].transport.write(room.message.split(b": ", 1)[1])
            try:
                await asyncio.wait_for(room.all_heard.wait(), BROADCAST_TIMEOUT)
                broadcast_s = time.monotonic() - sent
            except asyncio.TimeoutError:
                pass
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code, exited = await loop.run_in_executor(None, wait_exit, server.process)
        shutdown_s = exited - signalled if code is not None else None
        endings = [m.ended for m in room.members]
        if endings:
            await asyncio.wait(endings, timeout=5)
        for member in room.members:
            if member.transport is not None:
                member.transport.abort()
        return Result(engine, size, log_events, sum(m.joined for m in room.members),
                      None if join_s is None else round(join_s, 3),
                      None if broadcast_s is None else round(broadcast_s, 3),
                      None if shutdown_s is None else round(shutdown_s, 3), code,
                      sum(m.got_goodbye for m in room.members), sum(m.ended.done() for m in room.members),
                      round(rss_rest, 1), round(rss_joined, 1), threads_rest, threads_joined,
                      round(cpu_joined - cpu_rest, 2), round(own_cpu, 2))
    finally:
        server.close()


def wait_exit(process: subprocess.Popen[bytes]) -> tuple[int | None, float]:
    """The exit code (None: still running after ``EXIT_TIMEOUT``) and when the wait returned, noted on
    this thread: the event loop is busy with every member's goodbye at that moment."""
    try:
        code: int | None = process.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    return code, time.monotonic()


def run_loop(main: Coroutine[Any, Any, Result]) -> Result:
    """The members' loop: uvloop's when installed (a bench dependency), as it costs the least CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def describe(r: Result) -> str:
    def secs(value: float | None) -> str:
        return "not done" if value is None else f"{value:.2f} s"

    stop = "still running 15 s after SIGTERM" if r.exit_code is None else \
        f"exit {r.exit_code} {secs(r.shutdown_s)} after SIGTERM"
    return (f"{r.engine}, {r.members:,} members{' (log on)' if r.log_events else ''}: joined "
            f"{r.joined:,} in {secs(r.join_s)}; broadcast {secs(r.broadcast_s)}; {stop}; goodbye "
            f"{r.told_goodbye:,}, EOF {r.saw_eof:,}; RSS {r.rss_rest_mb} -> {r.rss_joined_mb} MB; threads "
            f"{r.threads_rest} -> {r.threads_joined}; CPU during the join: server {r.server_cpu_join_s} s, "
            f"members {r.members_cpu_join_s} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["asyncio", "threads"], action="append",
                        help="engine(s) to measure (default: both)")
    parser.add_argument("--members", type=int, action="append",
                        help="room size(s) (default: 300, 800, 1500)")
    parser.add_argument("--log-events", action="store_true", help="keep the server's JSON log on")
    parser.add_argument("--join-timeout", type=float, default=120.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes = args.members or [300, 800, 1500]
    if not all(1 <= n <= MAX_MEMBERS for n in sizes) or not 1 <= args.join_timeout <= 600:
        parser.error("a bound is exceeded (members 1-5000, join timeout 1-600 s)")
    raise_fd_limit(max(sizes) + 512)
    load_before = os.getloadavg()
    results = []
    for size in sizes:
        for engine in args.engine or ["asyncio", "threads"]:
            result = run_loop(run_room(engine, size, args.log_events, args.join_timeout))
            results.append(result)
            if not args.json:
                print(describe(result), flush=True)
    load_after = os.getloadavg()
    if args.json:
        print(json.dumps({"loadavg_before": load_before, "loadavg_after": load_after,
                          "results": [asdict(r) for r in results]}, indent=2))
    else:
        print(f"load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    ok = all(r.exit_code == 0 and r.join_s is not None and r.told_goodbye == r.members
             and r.saw_eof == r.members for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
