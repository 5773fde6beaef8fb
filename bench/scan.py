"""Full 65,535-port TCP scans: netdiag probe vs nmap, side by side, on hosts this script creates.

``--where local`` (default): 127.0.0.1 inside a network namespace (its 127.0.0.1 carries only our
listeners), with a few listeners open (one in the ephemeral range, where self-connections happen).
Tools: ``nmap -sT`` (the reference), ``netdiag probe --connect`` (the connect engine: its ratio to nmap is
the regression guard) and plain ``netdiag probe`` (a port of this host is read from the socket table:
nothing is sent).

``--where remote``: the same listeners on 198.18.0.2 in one namespace, scanned from another across a
veth link. Tools: ``nmap -sT``, ``nmap -sS``, ``netdiag probe`` (at 65,535 ports: the connect scanner),
``netdiag probe --connect`` and netdiag's SYN engine (half-open probes from a raw socket, as root) run on
the whole range, the figure behind ``probing.scan.SYN_SCAN_LIMIT``.

    ./dev bench scan [--rounds 5] [--where local|remote]

netdiag runs with its bytecode cached, as installed (a first, untimed run writes the cache). Each round
runs every tool as a whole process, rotating which goes first; the open sets must be equal in every round.

Prints the per-round wall and CPU times, the medians and each tool's ratio to ``nmap -sT`` (target for
the connect engine: wall <= 1.0). CPU time is user + system of the whole tool (netdiag's forked workers
included): netdiag spends more CPU than nmap and wins wall time by using both cores, so on a busy
machine the wall ratio gets worse.
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

from helpers.netns import SERVER_ADDR, Namespace, lone_host, two_hosts

OPEN_PORTS = (22, 80, 8000, 40000, 65535)
LISTENERS = f"""
import socket, sys
socks = []
for port in {OPEN_PORTS!r}:
    s = socket.socket(); s.bind((sys.argv[1], port)); s.listen(128); socks.append(s)
print("ready", flush=True)
sys.stdin.read()
"""

# The SYN engine on the whole range, as a process of its own (probe keeps the connect scanner for scans
# this big, since it measured faster; this keeps the comparison reproducible).
SYN_ENGINE = """
import json, sys
from netdiag.adapters.probing.engine import ProbeJob
from netdiag.adapters.probing.half_open import scan_syn
jobs = [ProbeJob(sys.argv[1], sys.argv[1], port) for port in range(1, 65536)]
outcomes = scan_syn(jobs, timeout=2.0, concurrency=1000)
assert outcomes is not None, "needs root"
opened = [{"port": job.port, "state": "open"} for job, o in zip(jobs, outcomes) if o[0].value == "open"]
print(json.dumps(opened))
"""


def tools(address: str, remote: bool) -> dict[str, list[str]]:
    """Tool name -> argv; ``nmap -sT`` first (the reference). -n: no reverse DNS (nothing may leave the
    namespace, and it only makes nmap faster)."""
    netdiag = [sys.executable, "-m", "netdiag", "probe", f"{address}:1-65535", "--format", "json"]
    found = {"nmap -sT": ["nmap", "-sT", "-p-", "-n", address]}
    if remote:
        found["nmap -sS"] = ["nmap", "-sS", "-p-", "-n", address]
        found["netdiag"] = netdiag  # at this size: the connect scanner (probing.scan.SYN_SCAN_LIMIT)
        found["netdiag SYN engine"] = [sys.executable, "-c", SYN_ENGINE, address]
    else:
        found["netdiag (socket table)"] = netdiag
    found["netdiag --connect"] = [*netdiag, "--connect"]
    return found


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
    parser.add_argument("--where", choices=("local", "remote"), default="local")
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the children cache bytecode, as an install does
    remote = args.where == "remote"
    if remote:
        with two_hosts() as net:
            run_rounds(net.client, net.server, SERVER_ADDR, args.rounds, remote=True)
    else:
        with lone_host() as ns:
            run_rounds(ns, ns, "127.0.0.1", args.rounds, remote=False)


def run_rounds(scanner: Namespace, server: Namespace, address: str, rounds: int, *, remote: bool) -> None:
    argvs = tools(address, remote)
    times: dict[str, list[float]] = {name: [] for name in argvs}
    cpus: dict[str, list[float]] = {name: [] for name in argvs}
    listeners = server.popen(sys.executable, "-c", LISTENERS, address, stdin=subprocess.PIPE)
    try:
        assert listeners.stdout is not None and listeners.stdout.readline().strip() == "ready"
        timed(scanner, argvs["netdiag --connect"])  # untimed: writes the bytecode cache
        names = list(argvs)
        for round_number in range(rounds):
            order = names[round_number % len(names):] + names[:round_number % len(names)]
            words = []
            for name in order:
                elapsed, cpu, stdout = timed(scanner, argvs[name])
                times[name].append(elapsed)
                cpus[name].append(cpu)
                found = nmap_open(stdout) if name.startswith("nmap") else netdiag_open(stdout)
                if found != set(OPEN_PORTS):
                    raise SystemExit(f"{name} found {sorted(found)}, not {list(OPEN_PORTS)}")
                words.append(f"{name} {elapsed:.3f} s (cpu {cpu:.3f})")
            print(f"round {round_number + 1}: " + ", ".join(words) + "; open sets equal")
    finally:
        listeners.kill()
        listeners.communicate(timeout=10)
    reference = statistics.median(times["nmap -sT"])
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs at the end")
    print(f"median of {rounds} rounds ({'remote host' if remote else 'this host'}):")
    for name in argvs:
        median = statistics.median(times[name])
        print(f"  {name:24} wall {median:.3f} s (best {min(times[name]):.3f}), ratio to nmap -sT "
              f"{median / reference:.2f}, CPU {statistics.median(cpus[name]):.3f} s")


if __name__ == "__main__":
    main()
