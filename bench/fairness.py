"""Chat fairness: delivery latency in a `netdiag listen --mode chat` room with one client that never reads,
and round trips while one member floods the room with a burst of lines.

Run on demand (never in CI): ``./dev bench fairness`` (``--help`` for the knobs). Loopback only.

Per engine and per run, a fresh quiet chat server gets four members: a sender, two readers, and a fourth
client that either **never reads** (it sets a 4 KiB receive buffer, reads its welcome, then nothing) or,
for the **control**, reads everything. The sender posts ``--messages`` measured lines (default 1,000), one
per millisecond, each followed by a ``--filler``-byte line (default 3,000) that fills the stuck client's
backlog; after the measured lines it keeps sending filler until the room announces the drop (at most
``MAX_ROUNDS`` lines in all). Latency is from the sender's ``send()`` to each reader's ``recv()``.

The control run is the reference measured in the same session: the ratio stuck/control says what the
client that never reads costs the others, whatever the machine's load. Target (issue 6): p99 under 50 ms
over 1,000 messages with the stuck client; the stuck client dropped; nothing lost or reordered.

**Burst** (``--scenario burst``): four members, each reading everything: ``burst``, ``ping``, ``pong`` and
``watch``. ``ping`` and ``pong`` play ping-pong through the room (``ping`` posts ``pNNNNN``, ``pong``
answers ``qNNNNN`` as soon as it reads it; a round trip is two relays), first ``--pings`` times in a quiet
room (the control), then for as long as ``burst`` floods the room: one ``sendall()`` of ``--burst-lines``
one-character lines (default 30,000, and 60,000: 120 KB), until the three others have read every line of
it. Reported: the others' round-trip p50/p99/max during the burst (every round trip that overlaps it, so
one stalled for the whole burst counts) against the control, how many such round trips there were,
whether anybody was dropped, and the time the server takes to exit on SIGTERM sent while a second,
identical burst is being relayed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from soak import HOST, echo_server

MAX_ROUNDS = 3_000
MAX_MESSAGES = 5_000
MAX_RUNS = 15
IO_TIMEOUT = 20.0
MAX_BURST_LINES = 100_000
MAX_PINGS = 2_000
BURST_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
ENGINE_RUNS = {"asyncio": ("asyncio", None), "asyncio-stdlib": ("asyncio", "asyncio"),
               "threads": ("threads", None)}
"""Each run: the engine and the NETDIAG_LOOP it runs with (None: the default, uvloop where installed)."""
BURST_LINE = b"burst: x\n"


class LineClock:
    """Reads one member's socket on a thread and notes when each measured line arrived."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.tagged: list[tuple[int, float]] = []
        self.dropped_notice = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        pending = b""
        try:
            while data := self.sock.recv(262144):
                now = time.perf_counter()
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if b": m" in line[:40]:
                        self.tagged.append((int(line.split(b": m", 1)[1][:5]), now))
                    elif b"was dropped" in line:
                        self.dropped_notice = True
        except OSError:
            pass


@dataclass
class RunResult:
    engine: str
    stuck: bool
    p50_ms: float
    p99_ms: float
    max_ms: float
    delivered_in_order: bool
    dropped: bool
    rounds: int


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(fraction * len(ordered) + 0.999999) - 1)]


def one_run(engine: str, stuck: bool, messages: int, filler: bytes) -> RunResult:
    with echo_server(engine, mode="chat") as server:
        members = []
        fourth = socket.socket()
        members.append(fourth)
        fourth.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        fourth.connect((HOST, server.port))
        fourth.settimeout(IO_TIMEOUT)
        while not fourth.recv(65536).endswith(b"\n"):  # its welcome line, then nothing more (if stuck)
            pass
        if not stuck:
            LineClock(fourth)
        sender = socket.create_connection((HOST, server.port), timeout=IO_TIMEOUT)
        # The sender writes two lines back to back; with Nagle the second waits for the ACK of the first,
        # which the server's kernel may delay by tens of ms: that would measure the sender, not the room.
        sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        readers = [socket.create_connection((HOST, server.port), timeout=IO_TIMEOUT) for _ in range(2)]
        members += [sender, *readers]
        clocks = [LineClock(reader) for reader in readers]
        LineClock(sender)
        deadline = time.monotonic() + IO_TIMEOUT
        while not all(any(tag == 99999 for tag, _ in c.tagged) for c in clocks):  # both readers joined
            if time.monotonic() > deadline:
                raise SystemExit("the readers never heard the room")
            sender.sendall(b"m%05d ready\n" % 99999)
            time.sleep(0.05)  # polling the reader threads, with a deadline
        for clock in clocks:
            clock.tagged.clear()
        sent_at: dict[int, float] = {}
        began = time.perf_counter()
        rounds = 0
        while rounds < MAX_ROUNDS and (rounds < messages or (stuck and not clocks[0].dropped_notice)):
            if rounds < messages:
                sent_at[rounds] = time.perf_counter()
                sender.sendall(b"m%05d measured\n" % rounds)
            sender.sendall(filler)
            rounds += 1
            time.sleep(max(0.0, began + rounds * 0.001 - time.perf_counter()))  # the room's own pace
        deadline = time.monotonic() + IO_TIMEOUT
        while min(len(c.tagged) for c in clocks) < messages and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the reader threads, with a deadline
        in_order = all([tag for tag, _ in c.tagged if tag != 99999] == list(range(messages)) for c in clocks)
        latencies = [at - sent_at[tag] for c in clocks for tag, at in c.tagged if tag in sent_at]
        for member in members:
            member.close()
    return RunResult(engine, stuck, round(percentile(latencies, 0.5) * 1000, 2),
                     round(percentile(latencies, 0.99) * 1000, 2), round(max(latencies) * 1000, 2),
                     in_order, clocks[0].dropped_notice, rounds)


@contextlib.contextmanager
def loop_env(loop: str | None) -> Iterator[None]:
    """Start the server with ``NETDIAG_LOOP=loop`` (the bench's own environment, restored after)."""
    before = os.environ.pop("NETDIAG_LOOP", None)
    if loop is not None:
        os.environ["NETDIAG_LOOP"] = loop
    try:
        yield
    finally:
        os.environ.pop("NETDIAG_LOOP", None)
        if before is not None:
            os.environ["NETDIAG_LOOP"] = before


@dataclass
class Member:
    """One chat member with a reader thread; ``on_line`` sees every line as it arrives."""

    sock: socket.socket
    on_line: object = None
    burst_lines: int = 0
    dropped_notice: bool = False
    ended: bool = False
    last_burst_at: float = 0.0

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        """Burst lines are counted with C-level byte operations: the bench's own threads share one GIL,
        and parsing 100,000 lines in Python would delay the ping-pong it measures."""
        pending = b""
        try:
            while data := self.sock.recv(262144):
                now = time.perf_counter()
                pending += data
                cut = pending.rfind(b"\n") + 1
                complete, pending = pending[:cut], pending[cut:]
                if burst := complete.count(BURST_LINE):
                    self.burst_lines += burst
                    self.last_burst_at = now
                    complete = complete.replace(BURST_LINE, b"")
                for line in complete.split(b"\n")[:-1]:
                    if b"was dropped" in line:
                        self.dropped_notice = True
                    if callable(self.on_line):
                        self.on_line(line, now)
        except OSError:
            pass
        self.ended = True


def join_as(port: int, name: str) -> Member:
    sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(f"/nick {name}\n".encode())
    reply = b""
    while b"* you are now" not in reply:
        reply += sock.recv(65536) or b"* you are now (EOF)"
    sock.settimeout(None)
    member = Member(sock)
    member.start()
    return member


@dataclass
class BurstResult:
    engine: str
    lines: int
    control_p50_ms: float
    control_p99_ms: float
    burst_p50_ms: float
    burst_p99_ms: float
    burst_max_ms: float
    round_trips_during_burst: int
    burst_seconds: float
    delivered: bool
    anybody_dropped: bool
    sigterm_exit_s: float
    exit_code: int | None


def burst_run(run: str, lines: int, pings: int) -> BurstResult:
    """One room, one burst with ping-pong going on, then SIGTERM during a second burst (module docstring)."""
    engine, loop = ENGINE_RUNS[run]
    with loop_env(loop), echo_server(engine, mode="chat") as server:
        watch, ping, pong, burst = (join_as(server.port, name) for name in ("watch", "ping", "pong", "burst"))
        rtts: list[tuple[float, float]] = []  # (sent at, round trip)
        sent: dict[int, float] = {}
        going, done = threading.Event(), threading.Event()

        def send_ping(n: int) -> None:
            sent[n] = time.perf_counter()
            ping.sock.sendall(b"p%05d\n" % n)

        def pong_answers(line: bytes, now: float) -> None:
            if line.startswith(b"ping: p"):
                pong.sock.sendall(b"q" + line[7:12] + b"\n")

        def ping_again(line: bytes, now: float) -> None:
            if line.startswith(b"pong: q"):
                n = int(line[7:12])
                rtts.append((sent[n], now - sent[n]))
                if going.is_set() and n + 1 < 99_999:
                    send_ping(n + 1)
                else:
                    done.set()

        pong.on_line, ping.on_line = pong_answers, ping_again
        going.set()
        send_ping(0)
        deadline = time.monotonic() + IO_TIMEOUT
        while len(rtts) < pings and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the reader threads, with a deadline
        control = [rtt for _, rtt in rtts]
        payload = b"x\n" * lines
        began = time.perf_counter()
        threading.Thread(target=burst.sock.sendall, args=(payload,), daemon=True).start()
        deadline = time.monotonic() + BURST_TIMEOUT
        readers = (watch, ping, pong)
        while any(m.burst_lines < lines and not m.ended for m in readers) and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the reader threads, with a deadline
        delivered_at = max(m.last_burst_at for m in readers)
        going.clear()
        done.wait(IO_TIMEOUT)
        during = [rtt for at, rtt in rtts if at <= delivered_at and at + rtt >= began]  # overlapping it
        delivered = all(m.burst_lines == lines for m in readers)
        dropped = any(m.dropped_notice or m.ended for m in (watch, ping, pong, burst))
        threading.Thread(target=burst.sock.sendall, args=(payload,), daemon=True).start()
        deadline = time.monotonic() + IO_TIMEOUT
        while watch.burst_lines == lines and time.monotonic() < deadline:
            time.sleep(0.001)  # polling the reader thread, with a deadline
        stopped = time.perf_counter()
        server.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = server.process.wait(timeout=STOP_TIMEOUT)
        except Exception:  # subprocess.TimeoutExpired: reported as no exit code
            code = None
        exit_s = time.perf_counter() - stopped
        for member in (watch, ping, pong, burst):
            member.sock.close()
    ms = [round(v * 1000, 2) for v in (
        percentile(control, 0.5), percentile(control, 0.99),
        percentile(during or [float("nan")], 0.5), percentile(during or [float("nan")], 0.99),
        max(during or [float("nan")]))]
    return BurstResult(run, lines, *ms, len(during), round(delivered_at - began, 3), delivered, dropped,
                       round(exit_s, 3), code)


def burst_main(args: argparse.Namespace) -> int:
    results = [burst_run(run, lines, args.pings)
               for _ in range(args.runs) for lines in args.burst_lines for run in args.engine_runs]
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"loadavg_after": load, "runs": [r.__dict__ for r in results]}, indent=2))
    else:
        for r in results:
            print(f"{r.engine:15} burst of {r.lines:,} lines ({2 * r.lines / 1000:g} KB): others' round trip "
                  f"p50 {r.burst_p50_ms} / p99 {r.burst_p99_ms} / max {r.burst_max_ms} ms during the burst "
                  f"({r.round_trips_during_burst} round trips in {r.burst_seconds} s), control p50 "
                  f"{r.control_p50_ms} / p99 {r.control_p99_ms} ms; delivered to all: {r.delivered}; "
                  f"anybody dropped: {r.anybody_dropped}; SIGTERM during a burst: exit {r.exit_code} "
                  f"in {r.sigterm_exit_s} s")
        print(f"load average after: {load[0]:.2f}")
    return 0 if all(r.delivered and not r.anybody_dropped and r.exit_code == 0 for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["asyncio", "threads"], action="append",
                        help="engine(s) to measure (default: both)")
    parser.add_argument("--runs", type=int, default=5, help="runs per engine and variant (median)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--filler", type=int, default=3000, help="bytes of the filler line after each")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--scenario", choices=["stuck", "burst"], default="stuck",
                        help="stuck: a client that never reads (default); burst: one member floods the room")
    parser.add_argument("--burst-lines", type=int, action="append",
                        help="burst: one-character lines per burst (default: 30,000 and 60,000)")
    parser.add_argument("--pings", type=int, default=200, help="burst: round trips of the control")
    args = parser.parse_args(argv)
    if args.scenario == "burst":
        args.burst_lines = args.burst_lines or [30_000, 60_000]
        args.engine_runs = ["asyncio", "asyncio-stdlib", "threads"] if not args.engine else [
            run for run in ENGINE_RUNS if ENGINE_RUNS[run][0] in args.engine]
        if not (all(1 <= n <= MAX_BURST_LINES for n in args.burst_lines) and 1 <= args.pings <= MAX_PINGS
                and 1 <= args.runs <= MAX_RUNS):
            parser.error("a bound is exceeded (burst lines <= 100000, pings <= 2000, runs <= 15)")
        return burst_main(args)
    if not (1 <= args.runs <= MAX_RUNS and 1 <= args.messages <= MAX_MESSAGES and 1 <= args.filler <= 60000):
        parser.error("a bound is exceeded (runs <= 15, messages <= 5000, filler <= 60000)")
    filler = b"f" * args.filler + b"\n"
    load_before = os.getloadavg()
    results: list[RunResult] = []
    for _ in range(args.runs):  # variants and engines interleaved, so a load spike hits all of them
        for engine in args.engine or ["asyncio", "threads"]:
            for stuck in (False, True):
                results.append(one_run(engine, stuck, args.messages, filler))
    summary = []
    for engine in args.engine or ["asyncio", "threads"]:
        row: dict[str, object] = {"engine": engine}
        for stuck, name in ((False, "control"), (True, "stuck")):
            runs = [r for r in results if r.engine == engine and r.stuck is stuck]
            row[f"{name}_p50_ms"] = statistics.median(r.p50_ms for r in runs)
            row[f"{name}_p99_ms"] = statistics.median(r.p99_ms for r in runs)
            row[f"{name}_p99_all_ms"] = [r.p99_ms for r in runs]
            row[f"{name}_in_order"] = all(r.delivered_in_order for r in runs)
        stuck_runs = [r for r in results if r.engine == engine and r.stuck]
        row["stuck_dropped_every_run"] = all(r.dropped for r in stuck_runs)
        row["stuck_vs_control_p99"] = round(float(row["stuck_p99_ms"]) / float(row["control_p99_ms"]), 2)  # type: ignore[arg-type]
        summary.append(row)
    load_after = os.getloadavg()
    if args.json:
        print(json.dumps({"loadavg_before": load_before, "loadavg_after": load_after, "engines": summary,
                          "runs": [r.__dict__ for r in results]}, indent=2))
    else:
        for row in summary:
            print(f"{row['engine']}: p99 median {row['stuck_p99_ms']} ms with a client that never reads "
                  f"(runs: {row['stuck_p99_all_ms']}), {row['control_p99_ms']} ms when it reads "
                  f"(runs: {row['control_p99_all_ms']}); ratio {row['stuck_vs_control_p99']}; p50 "
                  f"{row['stuck_p50_ms']} / {row['control_p50_ms']} ms; all in order: "
                  f"{row['stuck_in_order'] and row['control_in_order']}; dropped every run: "
                  f"{row['stuck_dropped_every_run']}")
        print(f"load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    ok = all(row["stuck_in_order"] and row["control_in_order"] and row["stuck_dropped_every_run"]
             for row in summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
