"""One probe as a whole process: `netdiag probe 127.0.0.1:PORT` vs a python3 one-liner doing the connect.

Start-up is part of the product: a single probe must cost at most 3x the time of

    python3 -c 'import socket; socket.create_connection(("127.0.0.1", PORT), 2).close()'

Both run with the same interpreter, alternating, against a listener this script opens on the 127.0.0.1 of
a network namespace it creates (the re-run of this script inside it is what is timed, so `ip netns exec`
costs nothing). `nc -z` (OpenBSD netcat, a C program) and `python -c 'import typer'` are timed alongside:
the first is what a C tool costs, the second the floor that any typer CLI pays before its own code runs.

    ./dev bench probe_startup [--rounds 20]

Bytecode is cached as in any installed copy (pip compiles .pyc files at install time): the children run
without PYTHONDONTWRITEBYTECODE, and a first, untimed round writes the cache. Without it every netdiag
module would be compiled from source on every run, which no user pays.

Prints per variant the median wall time, the median CPU time (user + system, less sensitive to other
load on the machine), the ratios to the one-liner, the load average, and the biggest imports of
`netdiag probe` (python -X importtime).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

NETDIAG_SCRIPT = shutil.which("netdiag", path=os.path.dirname(sys.executable)) or "netdiag"


CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
                   env=CHILD_ENV)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


def biggest_imports(port: int, count: int = 8) -> list[tuple[int, str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "netdiag", "probe", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=60, env=CHILD_ENV,
    )
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 2:  # top-level imports only (cumulative time)
            rows.append((int(match.group(1)), match.group(3)))
    return sorted(rows, reverse=True)[:count]


def variants(port: int) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {
        "one-liner": [sys.executable, "-c",
                      f"import socket; socket.create_connection(('127.0.0.1', {port}), 2).close()"],
        "netdiag (table)": [NETDIAG_SCRIPT, "probe", f"127.0.0.1:{port}"],
        "netdiag (json)": [NETDIAG_SCRIPT, "probe", f"127.0.0.1:{port}", "--format", "json"],
        "import typer": [sys.executable, "-c", "import typer"],
    }
    if shutil.which("nc"):
        found["nc -z"] = ["nc", "-z", "-w", "2", "127.0.0.1", str(port)]
    return found


def measure(rounds: int) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        argvs = variants(port)
        walls: dict[str, list[float]] = {name: [] for name in argvs}
        cpus: dict[str, list[float]] = {name: [] for name in argvs}
        for argv in argvs.values():  # untimed: writes the bytecode cache
            timed(argv)
        for _ in range(rounds):
            for name, argv in argvs.items():
                wall, cpu = timed(argv)
                walls[name].append(wall)
                cpus[name].append(cpu)
        imports = biggest_imports(port)
    base_wall, base_cpu = statistics.median(walls["one-liner"]), statistics.median(cpus["one-liner"])
    print(f"{rounds} rounds, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs at the end")
    for name in argvs:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:16} wall median {wall * 1000:6.1f} ms (best {min(walls[name]) * 1000:6.1f}) "
              f"ratio {wall / base_wall:4.2f} | cpu median {cpu * 1000:6.1f} ms ratio {cpu / base_cpu:4.2f}")
    print("biggest imports of `netdiag probe 127.0.0.1:PORT` (cumulative, µs):")
    for micros, name in imports:
        print(f"  {micros:8d}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)  # already in the netns
    args = parser.parse_args()
    if args.inside:
        measure(max(1, min(args.rounds, 200)))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from helpers.netns import lone_host

    with lone_host() as ns:
        ns.run("ip", "link", "set", "lo", "up")
        result = subprocess.run(
            ns.argv([sys.executable, __file__, "--inside", "--rounds", str(args.rounds)]), timeout=1800,
        )
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
