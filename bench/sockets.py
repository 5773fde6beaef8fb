"""Listing 1,000 and 10,000 established loopback connections: netdiag sockets vs ss, side by side.

Everything runs inside network namespaces this script creates, so a listing holds our connections and
nothing else (the host's loopback carries other people's sockets, and their number changes by the
second). Compositions of the same connections, each in a namespace of its own, one after the other
(``ss -p`` and netdiag read the descriptors of every process of the machine, so the holders of one
composition would weigh on the other's figures):

    two processes   one holder accepts on a few 127.0.0.1 listeners (ports chosen by the kernel), the
                    other connects to them: ~10,000 descriptors each
    one process     a single holder listens, connects to itself and accepts: it holds both ends of every
                    connection (~20,000 descriptors)
    unaccepted      (only with --compositions ...,unaccepted) a single holder listens and connects to
                    itself, never accepting: it holds one end of each connection (~10,000 descriptors);
                    the other ends wait in its accept queues, ESTABLISHED but without a descriptor, so
                    without an owner (ss shows them so too)

At each size, every round runs the tools as whole processes, in a rotating order so machine load falls on
all of them alike:

    netdiag sockets --format json   (TCP and UDP, owners resolved, JSON written)
    netdiag sockets                 (the same, as the table)
    ss -tanp                        (TCP, owners resolved: the reference)
    ss -tan                         (TCP, no owners: the floor)

and netdiag's peak RSS is read from wait4(). netdiag runs as a regular install of this checkout runs
(``installed``: a throwaway venv, a console script as pip writes one, no editable-install import hook),
with its bytecode cached (the children run without PYTHONDONTWRITEBYTECODE, with a PYTHONPYCACHEPREFIX
in the benchmark's scratch directory, so no checkout is written to; the untimed check run writes the
cache). That check run verifies netdiag's JSON holds exactly our connections, both ends, ESTABLISHED,
with owners (but for the ends in an accept queue). With both ends in one process, each connection is
two descriptors: where the hard RLIMIT_NOFILE (which only CAP_SYS_RESOURCE raises) is too small for
10,000, that composition holds as many as fit and says so.
Targets (issue 11): netdiag within 1.5x of ``ss -tanp`` at 10,000 in both compositions and both formats,
peak RSS under 100 MB.

    ./dev bench sockets [--rounds 7] [--sizes 1000,10000] [--compositions two,one] [--psutil]
                        [--baseline DIR] [--editable]

``--psutil`` also times the portable path (``--engine psutil``) for comparison; ``--baseline DIR`` also
times another checkout's netdiag, installed the same way (before/after a change, in the same rounds);
``--editable`` times the development venv's own ``netdiag`` command instead (its editable-install hook
included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.netns import Namespace, lone_host

LISTENERS = 8  # 10,000 connections spread over 8 ports: no ephemeral-port pressure on one destination
DEADLINE_S = 240  # the holders give up (and exit) after this long: every loop here is bounded
MAX_CONNECTIONS = 20_000
SPARE_FDS = 16  # a holder's descriptors besides connections and listeners: stdio, the selector, Python's
# The children cache bytecode, as an installed copy does (pip compiles .pyc files at install time); which
# netdiag they run is said by the command (``installed``), not by a PYTHONPATH.
CHILD_ENV = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")},
             "NO_COLOR": "1"}
CHECKOUT = Path(__file__).resolve().parent.parent

TWO, ONE, UNACCEPTED = "two processes", "one process", "unaccepted"
COMPOSITIONS = {"two": TWO, "one": ONE, "unaccepted": UNACCEPTED}
# One script, three roles. "server": listeners on 127.0.0.1:0, accept forever, answer "count" on stdin
# with the number held. "client PORT...": "open N" on stdin opens N more connections, answers
# "opened TOTAL". "alone accept|queue": listeners of its own (an accept queue of 4,096 each), and "open N"
# connects to them; with "accept" it accepts each connection too, holding both ends, with "queue" never:
# the other ends wait in its accept queues (ESTABLISHED, without a descriptor or an owner); "count"
# answers "held TOTAL" (connections). All exit when stdin closes or the deadline passes.
HOLDER = r"""
import json, resource, selectors, socket, sys, time
DEADLINE = time.monotonic() + {deadline}

def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:  # root may raise the hard limit too (up to fs.nr_open)
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
        except (ValueError, OSError):
            print(f"error: RLIMIT_NOFILE hard limit {{hard}} < {{need}}", flush=True); sys.exit(1)
    elif soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

def listen():
    listeners = []
    for _ in range({listeners}):
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4096)
        listeners.append(s)
    return listeners

def server():
    listeners = listen()
    held = []
    selector = selectors.DefaultSelector()
    for s in listeners:
        s.setblocking(False)
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

def alone(accepting):
    listeners = listen()
    for s in listeners:
        s.settimeout(5)  # accept() right after connect(): the connection is already in the queue
    ports = [s.getsockname()[1] for s in listeners]
    print(json.dumps(ports), flush=True)
    held, accepted = [], []
    for line in sys.stdin:
        if line.startswith("count"):
            print(f"held {{len(held)}}", flush=True)
            continue
        for n in range(int(line.split()[1])):
            if time.monotonic() > DEADLINE:
                print("error: deadline passed while connecting", flush=True); return
            index = len(held) % len(ports)
            held.append(socket.create_connection(("127.0.0.1", ports[index]), timeout=5))
            if accepting:
                accepted.append(listeners[index].accept()[0])
        print(f"opened {{len(held)}}", flush=True)

role = sys.argv[1]
raise_nofile(int(sys.argv[2]))
if role == "server":
    server()
elif role == "alone":
    alone(sys.argv[3] == "accept")
else:
    client([int(p) for p in sys.argv[3:]])
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
    with tempfile.TemporaryFile(mode="w+") as errors:  # a file, not a pipe: wait4 cannot deadlock on it
        started = time.perf_counter()
        process = subprocess.Popen(ns.argv(argv), stdout=subprocess.DEVNULL, stderr=errors, env=CHILD_ENV)
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


@dataclass
class Composition:
    """One namespace and the holder processes keeping its connections open."""

    name: str
    ns: Namespace
    opener: subprocess.Popen[str]  # answers "open N"
    counter: subprocess.Popen[str]  # answers "count"
    ports: list[int]
    current: int = 0

    def hold(self, size: int) -> None:
        """Open connections until ``size`` are established and accepted."""
        if size > self.current:
            assert ask(self.opener, f"open {size - self.current}") == f"opened {size}"
            self.current = size
        deadline = time.monotonic() + DEADLINE_S
        while ask(self.counter, "count") != f"held {size}":
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: the server never accepted every connection")
            time.sleep(0.05)  # polling a count with a deadline (a benchmark, not a test)

    def stop(self) -> None:
        for process in {id(p): p for p in (self.opener, self.counter)}.values():
            process.kill()
            process.communicate(timeout=30)


def start(name: str, ns: Namespace, holder: str, need: int) -> Composition:
    if name in (ONE, UNACCEPTED):
        mode = "accept" if name == ONE else "queue"
        alone = ns.popen(sys.executable, "-c", holder, "alone", str(need), mode, stdin=subprocess.PIPE)
        return Composition(name, ns, alone, alone, json.loads(ask(alone, None)))
    server = ns.popen(sys.executable, "-c", holder, "server", str(need), stdin=subprocess.PIPE)
    try:
        ports = json.loads(ask(server, None))
        client = ns.popen(sys.executable, "-c", holder, "client", str(need), *map(str, ports),
                          stdin=subprocess.PIPE)
    except BaseException:
        server.kill()
        raise
    return Composition(name, ns, client, server, ports)


def check_listing(composition: Composition, netdiag: list[str], size: int) -> int:
    """netdiag's JSON holds both ends of every connection, ESTABLISHED; returns its row count."""
    ns, ports = composition.ns, composition.ports
    done = subprocess.run(ns.argv(netdiag), capture_output=True, text=True, timeout=120, env=CHILD_ENV,
                          check=True)
    rows = json.loads(done.stdout)
    ours = [r for r in rows if r["proto"] == "tcp" and r["state"] == "ESTABLISHED"
            and (r["local_port"] in ports or r["remote_port"] in ports)]
    # The ends waiting in an accept queue (unaccepted) have no owner; every other end has one.
    owned = [r for r in ours if composition.name != UNACCEPTED or r["remote_port"] in ports]
    if len(ours) != 2 * size or len(owned) != (1 if composition.name == UNACCEPTED else 2) * size \
            or any(r["pid"] is None for r in owned):
        raise SystemExit(f"{composition.name}: netdiag listed {len(ours)} of our {2 * size} connection ends "
                         "(or without owner)")
    return len(rows)


def measure(composition: Composition, tools: dict[str, list[str]], rounds: int) -> dict[str, Timings]:
    found = {name: Timings() for name in tools}
    names = list(tools)
    for argv in tools.values():  # untimed: writes each netdiag's bytecode cache, warms the page cache
        run_measured(composition.ns, argv)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, cpu, peak = run_measured(composition.ns, tools[name])
            found[name].seconds.append(seconds)
            found[name].cpu_seconds.append(cpu)
            found[name].peak_kib.append(peak)
    return found


def report(size: int, composition: str, rows: int, found: dict[str, Timings], tools: list[str]) -> list[str]:
    reference = found["ss -tanp"]
    lines = [f"{size:,} connections, {composition} ({2 * size:,} ESTABLISHED ends; netdiag listed "
             f"{rows:,} rows)"]
    for name in tools:
        timings = found[name]
        cpu = statistics.median(timings.cpu_seconds)
        rss = f", peak RSS {max(timings.peak_kib) / 1024:.1f} MB" if "netdiag" in name else ""
        lines.append(
            f"  {name:<46} wall median {timings.median:.3f} s (min {min(timings.seconds):.3f}, max "
            f"{max(timings.seconds):.3f}) x{timings.median / reference.median:.2f} of ss -tanp; "
            f"CPU median {cpu:.3f} s x{cpu / statistics.median(reference.cpu_seconds):.2f}{rss}"
        )
    return lines


def sizes_that_fit(name: str, sizes: list[int]) -> list[int]:
    """The sizes, but for the one-process composition those whose two descriptors per connection (plus
    the listeners and a few spare) exceed the hard RLIMIT_NOFILE, which only CAP_SYS_RESOURCE may raise:
    those hold as many connections as fit, and say so."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if name != ONE or hard == resource.RLIM_INFINITY:
        return sizes
    most = (hard - LISTENERS - SPARE_FDS) // 2
    if sizes[-1] > most:
        instead = ", ".join(f"{n:,}" for n in sizes if n > most)
        print(f"note: {name}: RLIMIT_NOFILE hard limit {hard} holds both ends of at most {most:,} "
              f"connections; {most:,} instead of {instead}", flush=True)
    return sorted({min(size, most) for size in sizes})


def installed(checkout: Path, directory: Path) -> list[str]:
    """The ``netdiag`` command of a regular (not editable) install of ``checkout``: a virtual environment
    of its own, in ``directory``, whose site-packages names the checkout and this interpreter's
    site-packages (typer, psutil ...) in a .pth file, and a console script as pip writes one. The
    interpreter then starts as for a user's ``pip install``: without the editable-install import hook a
    development venv adds to every start (~11 ms here; ``--editable`` times that instead)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True, timeout=120)
    site = sysconfig.get_path("purelib", vars={"base": str(directory), "platbase": str(directory)})
    Path(site, "netdiag-bench.pth").write_text(f"{checkout}\n{sysconfig.get_path('purelib')}\n")
    script = directory / "bin" / "netdiag"
    script.write_text(f"#!{directory / 'bin' / 'python'}\nimport sys\nfrom netdiag.cli.main import run\n"
                      "sys.exit(run())\n")
    script.chmod(0o755)
    return [str(script)]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default="1000,10000", help="connection counts, increasing")
    parser.add_argument("--compositions", default="two,one",
                        help="which, in this order: two, one, unaccepted (see above)")
    parser.add_argument("--psutil", action="store_true", help="also time --engine psutil")
    parser.add_argument("--editable", action="store_true",
                        help="time this interpreter's `netdiag` command (a development venv's editable "
                             "install, whose import hook every start pays) instead of a regular install")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also time the netdiag package of another checkout (its root directory, e.g. "
                             "`git worktree add /tmp/base main`): before and after in the same rounds")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_CONNECTIONS:
        raise SystemExit(f"sizes must be between 1 and {MAX_CONNECTIONS}")
    rounds = max(1, min(args.rounds, 100))
    unknown = [word for word in args.compositions.split(",") if word not in COMPOSITIONS]
    if unknown or not args.compositions:
        raise SystemExit(f"--compositions: {', '.join(unknown) or 'none'} unknown; "
                         f"some of {', '.join(COMPOSITIONS)}")
    compositions = [COMPOSITIONS[word] for word in args.compositions.split(",")]
    with tempfile.TemporaryDirectory(prefix="netdiag-bench-") as scratch:
        run(args, sizes, rounds, compositions, Path(scratch))


def run(args: argparse.Namespace, sizes: list[int], rounds: int, compositions: list[str],
        scratch: Path) -> None:
    """Measure every composition with every tool (``main`` has read and checked the options)."""
    # Bytecode cached in the scratch directory, not beside the sources: the checkouts stay untouched.
    CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    if args.editable:  # the development venv's own command, its editable-install hook included
        script = shutil.which("netdiag", path=os.path.dirname(sys.executable))
        netdiag = [script, "sockets"] if script else [sys.executable, "-m", "netdiag", "sockets"]
    else:
        netdiag = [*installed(CHECKOUT, scratch / "installed"), "sockets"]
    tools = {"netdiag sockets --format json": [*netdiag, "--format", "json"],
             "netdiag sockets (table)": netdiag, "ss -tanp": ["ss", "-tanp"], "ss -tan": ["ss", "-tan"]}
    if args.baseline:
        root = Path(args.baseline).resolve()
        if not (root / "netdiag" / "__init__.py").is_file():
            raise SystemExit(f"--baseline {root}: no netdiag package there")
        baseline = [*installed(root, scratch / "baseline"), "sockets"]
        tools["baseline: netdiag sockets --format json"] = [*baseline, "--format", "json"]
        tools["baseline: netdiag sockets (table)"] = baseline
    if args.psutil:
        tools["netdiag sockets --format json --engine psutil"] = [*netdiag, "--format", "json", "--engine",
                                                                  "psutil"]
    print(f"load before: {uptime()}", flush=True)
    holder = HOLDER.format(deadline=DEADLINE_S, listeners=LISTENERS)
    for name in compositions:  # one after the other: each ss -p / netdiag reads every process's descriptors
        held_sizes = sizes_that_fit(name, sizes)
        need = (2 if name == ONE else 1) * held_sizes[-1] + LISTENERS + SPARE_FDS  # the busiest holder's
        with lone_host() as ns:
            composition = start(name, ns, holder, need)
            try:
                for size in held_sizes:
                    composition.hold(size)
                    rows = check_listing(composition, tools["netdiag sockets --format json"], size)
                    found = measure(composition, tools, rounds)
                    print("\n".join(report(size, composition.name, rows, found, list(tools))), flush=True)
            finally:
                composition.stop()
    print(f"load after: {uptime()}")
    print(f"median of {rounds} rounds per tool, composition and size; reproduce: ./dev bench sockets "
          f"--rounds {rounds} --sizes {args.sizes} --compositions {args.compositions}"
          f"{' --psutil' if args.psutil else ''}{' --editable' if args.editable else ''}"
          f"{' --baseline ' + args.baseline if args.baseline else ''}")


if __name__ == "__main__":
    main()
