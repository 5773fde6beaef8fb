"""`netdiag handshake 127.0.0.1:PORT` as a whole process, next to tcpdump capturing the same kind of
connection.

A server this script opens on 127.0.0.1 (port 0) accepts, reads to EOF and closes. Each round runs:

* **netdiag**: ``netdiag handshake 127.0.0.1:PORT --absolute`` (text diagram, unbuffered output). Capture
  ready = the moment its SYN leaves (netdiag connects as soon as its capture is open, so the SYN's kernel
  timestamp, read from the monitor below, minus the process start is start-up + scapy import + opening
  the capture); diagram printed = the moment the ``Reading:`` line arrives on its stdout; wall = exit.
* **tcpdump** (reference): ``tcpdump -i lo -nn -tt -S -l 'tcp port PORT'`` started fresh. Capture ready =
  its "listening on" line; then this script connects, half-closes, reads to EOF, and "printed" is the
  moment tcpdump has printed every segment the kernel counted on the client socket (TCP_INFO).

A monitor tcpdump runs through the whole benchmark and records every segment to or from PORT. A netdiag
run *misses* a segment when its diagram has fewer rows than the monitor saw for that client port, when a
row's absolute seq/ack differ from the monitor's, or when netdiag itself warns that the kernel counted
more segments than it captured. Target: the whole command under 2 s wall; no miss in 100 runs.

    ./dev bench handshake [--runs 100] [--max-seconds 600]

Needs root (packet capture) and tcpdump. Traffic stays on 127.0.0.1. Bounded: --runs and --max-seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

NETDIAG_SCRIPT = shutil.which("netdiag", path=os.path.dirname(sys.executable))
NETDIAG = [NETDIAG_SCRIPT] if NETDIAG_SCRIPT else [sys.executable, "-m", "netdiag"]
TCPDUMP_LINE = re.compile(r"^(?P<time>\d+\.\d+) IP (?P<src>[\d.]+)\.(?P<sport>\d+) > "
                          r"(?P<dst>[\d.]+)\.(?P<dport>\d+): Flags \[(?P<flags>[^\]]+)\]"
                          r"(?:, seq (?P<seq>\d+)(?::\d+)?)?(?:, ack (?P<ack>\d+))?")
ROW = re.compile(r"^\s+\d+\.\d{3}  \|(?:---|<--) (?P<flags>[A-Z,]+) seq=(?P<seq>\d+) ack=(?P<ack>\d+|-)")
CLIENT = re.compile(r"CLIENT 127\.0\.0\.1:(\d+)")
Seen = tuple[float, str, "int | None", "int | None"]  # tcpdump's (time, flags, seq, ack) of one segment


class Lines:
    """Collects a stream's lines with their arrival time, in a thread; waits with deadlines."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append((time.time(), line))
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[tuple[float, str]]], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.lines), timeout)

    def join(self) -> None:
        self._thread.join(5)


@dataclass
class Monitor:
    """Every TCP segment tcpdump saw to or from the port, by client port: (time, flags, seq, ack)."""

    lines: Lines

    def segments(self, client_port: int, since: float = 0.0) -> list[Seen]:
        """Segments of ``client_port`` captured after ``since`` (a port is reused across runs: loopback
        allows a new connection to take over a port still in TIME-WAIT, net.ipv4.tcp_tw_reuse=2)."""
        found = []
        for _, line in list(self.lines.lines):
            match = TCPDUMP_LINE.match(line)
            if match and float(match["time"]) >= since and client_port in (int(match["sport"]),
                                                                            int(match["dport"])):
                seq, ack = match["seq"], match["ack"]
                found.append((float(match["time"]), match["flags"], int(seq) if seq else None,
                              int(ack) if ack else None))
        return found


@contextlib.contextmanager
def tcpdump(port: int) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    process = subprocess.Popen(["tcpdump", "-i", "lo", "-nn", "-tt", "-S", "-l", f"tcp port {port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        yield process, out, err
    finally:
        process.terminate()
        process.wait(10)
        out.join()
        err.join()


def listening(err: Lines, timeout: float = 10) -> bool:
    return err.wait_for(lambda lines: any("listening on" in text for _, text in lines), timeout)


@contextlib.contextmanager
def server() -> Iterator[int]:
    """A loopback server on port 0: accept, read to EOF, close; until the benchmark ends."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                with contextlib.suppress(OSError):
                    while conn.recv(4096):
                        pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(10)


@dataclass
class Run:
    ready: float | None = None
    printed: float | None = None
    wall: float | None = None
    missed: bool = False
    problem: str = ""


def run_netdiag(port: int, monitor: Monitor) -> Run:
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1")
    started = time.time()
    process = subprocess.Popen([*NETDIAG, "handshake", f"127.0.0.1:{port}", "--absolute"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               stdin=subprocess.DEVNULL)
    assert process.stdout is not None and process.stderr is not None
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    wall = time.time() - started
    out.join()
    err.join()
    stderr = "".join(line for _, line in err.lines)
    run = Run(wall=wall)
    text = "".join(line for _, line in out.lines)
    reading = [at for at, line in out.lines if line.startswith("Reading: ")]
    client = CLIENT.search(text)
    if process.returncode != 0 or not reading or client is None:
        run.problem = f"exit {process.returncode}: {stderr.strip()[-200:]}"
        return run
    run.printed = reading[0] - started
    rows = [m for _, line in out.lines if (m := ROW.match(line))]
    client_port = int(client.group(1))
    monitor.lines.wait_for(lambda _: len(monitor.segments(client_port, started)) >= len(rows), 3)
    seen = monitor.segments(client_port, started)
    if seen:
        run.ready = seen[0][0] - started
    warned = "the kernel counted" in stderr
    run.missed = warned or len(seen) > len(rows)
    if warned:
        run.problem = "netdiag warned that the kernel counted more segments than it captured"
    drawn = Counter((int(row["seq"]), None if row["ack"] == "-" else int(row["ack"])) for row in rows)
    for _, _, seq, ack in seen:  # tcpdump prints no seq for a pure ACK: match on the ack alone then
        match = next((key for key in drawn if drawn[key] and key[1] == ack and seq in (None, key[0])), None)
        if match is None:
            run.missed = True
            run.problem = (f"tcpdump saw seq={seq} ack={ack}, which netdiag did not draw "
                           f"({len(seen)} segments seen, {len(rows)} drawn)")
        else:
            drawn[match] -= 1
    if len(seen) < len(rows):
        run.problem = f"the monitor tcpdump saw {len(seen)} segments, netdiag drew {len(rows)}"
    return run


def segment_counts(sock: socket.socket) -> int:
    """Segments sent + received on a TCP socket, from Linux TCP_INFO (tcpi_segs_out, tcpi_segs_in)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    segs_out, segs_in = struct.unpack_from("II", info, 136)
    return int(segs_out + segs_in)


def run_tcpdump(port: int) -> Run:
    started = time.time()
    with tcpdump(port) as (_, out, err):
        if not listening(err):
            return Run(problem="tcpdump did not start")
        ready = next(at for at, line in err.lines if "listening on" in line) - started
        with socket.create_connection(("127.0.0.1", port), 5) as client:
            client.shutdown(socket.SHUT_WR)
            client.settimeout(5)
            while client.recv(4096):
                pass
            expected = segment_counts(client)
            client_port = client.getsockname()[1]
        monitor = Monitor(out)
        if not out.wait_for(lambda _: len(monitor.segments(client_port, started)) >= expected, 5):
            return Run(ready=ready, problem="tcpdump did not print every segment")
        printed = out.lines[-1][0] - started
        return Run(ready=ready, printed=printed, wall=time.time() - started)


def breakdown(rounds: int) -> dict[str, float]:
    """Medians of the parts of netdiag's start-up, as whole processes: where the time before the SYN goes."""
    parts = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "netdiag --version": [*NETDIAG, "--version"],
        "python + netdiag's scapy import": [
            sys.executable, "-c", "from netdiag.adapters.capture.scapy_glue import load_scapy; load_scapy()"],
    }
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(rounds):
        for name, argv in parts.items():
            started = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, timeout=60)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def median_ms(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    return f"{statistics.median(present) * 1000:7.1f} ms" if present else "      -   "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("tcpdump") is None:
        sys.exit("needs root and tcpdump")
    load_before = os.getloadavg()
    began = time.monotonic()
    ours: list[Run] = []
    theirs: list[Run] = []
    with server() as port, tcpdump(port) as (_, monitor_out, monitor_err):
        if not listening(monitor_err):
            sys.exit("the monitor tcpdump did not start")
        monitor = Monitor(monitor_out)
        while len(ours) < args.runs and time.monotonic() - began < args.max_seconds:
            ours.append(run_netdiag(port, monitor))
            theirs.append(run_tcpdump(port))
    parts = breakdown(min(args.runs, 10))
    load_after = os.getloadavg()
    elapsed = time.monotonic() - began
    print(f"{len(ours)} runs in {elapsed:.0f} s (runs asked: {args.runs}, cap {args.max_seconds:.0f} s); "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"{'':10} {'capture ready':>14} {'printed':>12} {'wall':>12}")
    for name, runs in (("netdiag", ours), ("tcpdump", theirs)):
        ready, printed = median_ms([r.ready for r in runs]), median_ms([r.printed for r in runs])
        print(f"{name:10} {ready:>14} {printed:>12} {median_ms([r.wall for r in runs]):>12}")
    for label, attribute in (("ready", "ready"), ("printed", "printed"), ("wall", "wall")):
        a = [getattr(r, attribute) for r in ours if getattr(r, attribute) is not None]
        b = [getattr(r, attribute) for r in theirs if getattr(r, attribute) is not None]
        if a and b:
            print(f"ratio netdiag/tcpdump ({label}): {statistics.median(a) / statistics.median(b):.1f}x")
    walls = sorted(r.wall for r in ours if r.wall is not None)
    if walls:
        p90 = walls[min(len(walls) - 1, int(len(walls) * 0.9))]
        over = sum(w >= 2.0 for w in walls)
        print(f"netdiag wall: best {walls[0]:.3f} s, p90 {p90:.3f} s, worst {walls[-1]:.3f} s; "
              f"{over} of {len(walls)} runs at or over the 2 s target")
    print("start-up parts (whole processes, medians): "
          + ", ".join(f"{name} {value * 1000:.0f} ms" for name, value in parts.items()))
    missed = sum(r.missed for r in ours)
    failed = [r.problem for r in ours if r.problem]
    print(f"runs with a missed or wrong segment: {missed} of {len(ours)}")
    for problem in failed[:5]:
        print(f"  problem: {problem}")
    tcpdump_failed = [r.problem for r in theirs if r.problem]
    if tcpdump_failed:
        print(f"tcpdump reference problems: {len(tcpdump_failed)} (first: {tcpdump_failed[0]})")


if __name__ == "__main__":
    main()
