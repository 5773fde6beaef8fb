"""Full 65,535-port TCP connect scan of 127.0.0.1: netdiag probe vs nmap -sT, side by side.

Runs inside a network namespace this script creates (its 127.0.0.1 carries only our listeners), with a
few listeners open (one in the ephemeral range, where self-connections happen). Each round runs both
tools as whole processes, alternating which goes first; the open sets must be equal in every round.

    ./dev bench scan [--rounds 5]

netdiag runs with its bytecode cached, as installed (a first, untimed run writes the cache).

Prints the per-round wall and CPU times, the medians and the ratio netdiag / nmap (target: wall <= 1.0).
CPU time is user + system of the whole tool (netdiag's forked workers included): netdiag spends more CPU
than nmap and wins wall time by using both cores, so on a busy machine the wall ratio gets worse.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.netns import Namespace, lone_host

OPEN_PORTS = (22, 80, 8000, 40000, 65535)
LISTENERS = f"""
import socket, sys
socks = []
for port in {OPEN_PORTS!r}:
    s = socket.socket(); s.bind(("127.0.0.1", port)); s.listen(128); socks.append(s)
print("ready", flush=True)
sys.stdin.read()
"""
# -n: no reverse DNS (nothing may leave the namespace, and it only makes nmap faster).
NMAP = ["nmap", "-sT", "-p-", "-n", "127.0.0.1"]
NETDIAG = [sys.executable, "-m", "netdiag", "probe", "127.0.0.1:1-65535", "--format", "json"]


def timed(ns: Namespace, argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system, the tool and its worker processes) and stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = ns.run(*argv, check=False, timeout=300)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({result.returncode}): {result.stderr}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return elapsed, cpu, result.stdout


def nmap_open(stdout: str) -> set[int]:
    return {int(m.group(1)) for m in re.finditer(r"^(\d+)/tcp\s+open\b", stdout, re.MULTILINE)}


def netdiag_open(stdout: str) -> set[int]:
    return {r["port"] for r in json.loads(stdout) if r["state"] == "open"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the children cache bytecode, as an install does
    times: dict[str, list[float]] = {"nmap": [], "netdiag": []}
    cpus: dict[str, list[float]] = {"nmap": [], "netdiag": []}
    with lone_host() as ns:
        listeners = ns.popen(sys.executable, "-c", LISTENERS, stdin=subprocess.PIPE)
        try:
            assert listeners.stdout is not None and listeners.stdout.readline().strip() == "ready"
            timed(ns, NETDIAG)  # untimed: writes the bytecode cache
            for round_number in range(args.rounds):
                order = ("nmap", "netdiag") if round_number % 2 == 0 else ("netdiag", "nmap")
                found: dict[str, set[int]] = {}
                for tool in order:
                    elapsed, cpu, stdout = timed(ns, NMAP if tool == "nmap" else NETDIAG)
                    times[tool].append(elapsed)
                    cpus[tool].append(cpu)
                    found[tool] = nmap_open(stdout) if tool == "nmap" else netdiag_open(stdout)
                same = found["nmap"] == found["netdiag"] == set(OPEN_PORTS)
                print(f"round {round_number + 1}: nmap {times['nmap'][-1]:.3f} s "
                      f"(cpu {cpus['nmap'][-1]:.3f}), netdiag {times['netdiag'][-1]:.3f} s "
                      f"(cpu {cpus['netdiag'][-1]:.3f}), open sets equal: {same}")
                if not same:
                    raise SystemExit(f"open sets differ: nmap {sorted(found['nmap'])}, "
                                     f"netdiag {sorted(found['netdiag'])}")
        finally:
            listeners.kill()
            listeners.communicate(timeout=10)
    nmap_median, ours_median = statistics.median(times["nmap"]), statistics.median(times["netdiag"])
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs at the end")
    print(f"median of {args.rounds}: nmap {nmap_median:.3f} s, netdiag {ours_median:.3f} s, "
          f"ratio netdiag/nmap {ours_median / nmap_median:.2f} "
          f"(best: {min(times['nmap']):.3f} vs {min(times['netdiag']):.3f}); median CPU: "
          f"nmap {statistics.median(cpus['nmap']):.3f} s, netdiag {statistics.median(cpus['netdiag']):.3f} s")


if __name__ == "__main__":
    main()
