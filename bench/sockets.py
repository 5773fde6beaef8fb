"""Listing 1,000 and 10,000 established loopback connections: netdiag sockets vs ss, side by side.

Everything runs inside a network namespace this script creates, so the listing holds our connections and
nothing else (the host's loopback carries other people's sockets, and their number changes by the
second). Two holder processes keep the connections open: one accepts on a few 127.0.0.1 listeners (ports
chosen by the kernel), the other connects to them; each holds ~10,000 descriptors, under the usual
RLIMIT_NOFILE hard limit (each raises its soft limit to what it needs). At each size, every round runs
the three tools as whole processes, in a rotating order so machine load falls on all of them alike:

    netdiag sockets --format json   (TCP and UDP, owners resolved, JSON written)
    ss -tanp                        (TCP, owners resolved: the reference)
    ss -tan                         (TCP, no owners: the floor)

and netdiag's peak RSS is read from wait4(). A final run checks netdiag's JSON holds exactly our
connections, both ends, ESTABLISHED. Targets: netdiag within 2x of ``ss -tanp`` at 10,000, peak RSS
under 100 MB.

    ./dev bench sockets [--rounds 7] [--sizes 1000,10000] [--psutil]

``--psutil`` also times the portable path (``--engine psutil``) for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.netns import Namespace, lone_host

LISTENERS = 8  # 10,000 connections spread over 8 ports: no ephemeral-port pressure on one destination
DEADLINE_S = 180  # the holders give up (and exit) after this long: every loop here is bounded
MAX_CONNECTIONS = 20_000

# One script, two roles. "server PORTS_OUT": listeners on 127.0.0.1:0, accept forever, answer "count" on
# stdin with the number held. "client PORT...": "open N" on stdin opens N more connections, answers
# "opened TOTAL". Both exit when stdin closes or the deadline passes.
HOLDER = r"""
import json, resource, selectors, socket, sys, time
DEADLINE = time.monotonic() + {deadline}
NEED = {need}

def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NEED if hard == resource.RLIM_INFINITY else min(NEED, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < NEED:
        print(f"error: RLIMIT_NOFILE hard limit {{hard}} < {{NEED}}", flush=True); sys.exit(1)

def server():
    listeners = []
    for _ in range({listeners}):
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4096); s.setblocking(False)
        listeners.append(s)
    held = []
    selector = selectors.DefaultSelector()
    for s in listeners:
        selector.register(s, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    print(json.dumps([s.getsockname()[1] for s in listeners]), flush=True)
    while time.monotonic() < DEADLINE:
        for key, _ in selector.select(timeout=1):
            if key.fileobj is sys.stdin:
                line = sys.stdin.readline()
                if not line:
                    return
                print(f"held {{len(held)}}", flush=True)
                continue
            while True:
                try:
                    conn, _ = key.fileobj.accept()
                except BlockingIOError:
                    break
                held.append(conn)

def client(ports):
    held = []
    for line in sys.stdin:
        wanted = int(line.split()[1])
        for n in range(wanted):
            if time.monotonic() > DEADLINE:
                print("error: deadline passed while connecting", flush=True); return
            held.append(socket.create_connection(("127.0.0.1", ports[len(held) % len(ports)]), timeout=5))
        print(f"opened {{len(held)}}", flush=True)

raise_nofile()
server() if sys.argv[1] == "server" else client([int(p) for p in sys.argv[2:]])
"""


@dataclass
class Timings:
    """Wall seconds, CPU seconds (user + system) and peak RSS (KiB) of each run of one tool."""

    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    peak_kib: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run_measured(ns: Namespace, argv: list[str]) -> tuple[float, float, int]:
    """Run ``argv`` in the namespace, output discarded; wall time, then CPU time and peak RSS from
    wait4() (CPU time is what the tool itself used: on a busy machine it varies less than wall time)."""
    env = {**os.environ, "NO_COLOR": "1"}
    with tempfile.TemporaryFile(mode="w+") as errors:  # a file, not a pipe: wait4 cannot deadlock on it
        started = time.perf_counter()
        process = subprocess.Popen(ns.argv(argv), stdout=subprocess.DEVNULL, stderr=errors, env=env)
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{argv[0]} failed ({process.returncode}): {errors.read()}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss  # KiB on Linux


def ask(process: subprocess.Popen[str], line: str | None) -> str:
    """Send a line to a holder (None: just read) and return its answer; the holder bounds the wait."""
    assert process.stdin is not None and process.stdout is not None
    if line is not None:
        process.stdin.write(line + "\n")
        process.stdin.flush()
    answer = process.stdout.readline().strip()
    if not answer or answer.startswith("error"):
        details = process.stderr.read() if process.stderr else ""
        raise SystemExit(f"holder failed: {answer or 'exited'} {details}")
    return answer


def hold(ns: Namespace, server: subprocess.Popen[str], client: subprocess.Popen[str], size: int,
         current: int) -> None:
    """Open connections until ``size`` are established and the server side holds all of them."""
    if size > current:
        assert ask(client, f"open {size - current}") == f"opened {size}"
    deadline = time.monotonic() + DEADLINE_S
    while ask(server, "count") != f"held {size}":
        if time.monotonic() > deadline:
            raise SystemExit("the server never accepted every connection")
        time.sleep(0.05)  # polling a count with a deadline (a benchmark, not a test)


def check_listing(ns: Namespace, netdiag: list[str], ports: list[int], size: int) -> int:
    """netdiag's JSON holds both ends of every connection, ESTABLISHED; returns its row count."""
    rows = json.loads(ns.run(*netdiag, timeout=120).stdout)
    ours = [r for r in rows if r["proto"] == "tcp" and r["state"] == "ESTABLISHED"
            and (r["local_port"] in ports or r["remote_port"] in ports)]
    if len(ours) != 2 * size or any(r["pid"] is None for r in ours):
        raise SystemExit(f"netdiag listed {len(ours)} of our {2 * size} connection ends (or without owner)")
    return len(rows)


def measure(ns: Namespace, tools: dict[str, list[str]], rounds: int) -> dict[str, Timings]:
    found = {name: Timings() for name in tools}
    names = list(tools)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, cpu, peak = run_measured(ns, tools[name])
            found[name].seconds.append(seconds)
            found[name].cpu_seconds.append(cpu)
            found[name].peak_kib.append(peak)
    return found


def report(size: int, rows: int, found: dict[str, Timings]) -> list[str]:
    reference = found["ss -tanp"]
    lines = [f"{size:,} connections ({2 * size:,} ESTABLISHED ends; netdiag listed {rows:,} rows)"]
    for name, timings in found.items():
        cpu = statistics.median(timings.cpu_seconds)
        rss = f", peak RSS {max(timings.peak_kib) / 1024:.1f} MB" if name.startswith("netdiag") else ""
        lines.append(
            f"  {name:<36} wall median {timings.median:.3f} s (min {min(timings.seconds):.3f}, max "
            f"{max(timings.seconds):.3f}) x{timings.median / reference.median:.2f} of ss -tanp; "
            f"CPU median {cpu:.3f} s x{cpu / statistics.median(reference.cpu_seconds):.2f}{rss}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default="1000,10000", help="connection counts, increasing")
    parser.add_argument("--psutil", action="store_true", help="also time --engine psutil")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_CONNECTIONS:
        raise SystemExit(f"sizes must be between 1 and {MAX_CONNECTIONS}")
    netdiag = [sys.executable, "-m", "netdiag", "sockets", "--format", "json"]
    tools = {"netdiag sockets --format json": netdiag, "ss -tanp": ["ss", "-tanp"], "ss -tan": ["ss", "-tan"]}
    if args.psutil:
        tools["netdiag sockets --format json --engine psutil"] = [*netdiag, "--engine", "psutil"]
    print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    holder = HOLDER.format(deadline=DEADLINE_S, need=sizes[-1] + LISTENERS + 64, listeners=LISTENERS)
    lines: list[str] = []
    with lone_host() as ns:
        server = ns.popen(sys.executable, "-c", holder, "server", stdin=subprocess.PIPE)
        client: subprocess.Popen[str] | None = None
        try:
            ports = json.loads(ask(server, None))
            client = ns.popen(sys.executable, "-c", holder, "client", *map(str, ports), stdin=subprocess.PIPE)
            current = 0
            for size in sizes:
                hold(ns, server, client, size, current)
                current = size
                rows = check_listing(ns, netdiag, ports, size)
                found = measure(ns, tools, args.rounds)
                lines += report(size, rows, found)
                print("\n".join(report(size, rows, found)), flush=True)
        finally:
            for holder_process in (client, server):
                if holder_process is not None:
                    holder_process.kill()
                    holder_process.communicate(timeout=30)
    print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"median of {args.rounds} rounds per tool and size; reproduce: ./dev bench sockets "
          f"--rounds {args.rounds} --sizes {args.sizes}{' --psutil' if args.psutil else ''}")


if __name__ == "__main__":
    main()
