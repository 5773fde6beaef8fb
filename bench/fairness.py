"""Chat fairness: delivery latency in a `netdiag listen --mode chat` room with one client that never reads.

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
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass

from soak import HOST, echo_server

MAX_ROUNDS = 3_000
MAX_MESSAGES = 5_000
MAX_RUNS = 15
IO_TIMEOUT = 20.0


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["asyncio", "threads"], action="append",
                        help="engine(s) to measure (default: both)")
    parser.add_argument("--runs", type=int, default=5, help="runs per engine and variant (median)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--filler", type=int, default=3000, help="bytes of the filler line after each")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
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
