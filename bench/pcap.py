"""Reading a 1,000,000-packet capture: `netdiag explain --pcap` vs `tshark -q -z conv,tcp` vs scapy's readers.

The capture is made for real, every run: inside a network namespace this script creates, tcpdump
(`-i lo -c 1000000`) records a load of real TCP traffic on the namespace's loopback (an asyncio echo
server; clients that open connections, exchange a few small messages and close; one in 200 connects to a
closed port and is refused), until tcpdump has its million packets. Nothing leaves the namespace.

Then, ROUNDS times, interleaved, each tool reads the file as a whole process, and the wall time and the
peak RSS of that process are taken (``os.wait4``):

* ``tshark -r FILE -q -z conv,tcp``: the reference (Wireshark's TCP conversation table);
* ``netdiag explain --pcap FILE`` (the text report: table and the ladders of the refused connections);
* scapy's ``RawPcapReader`` iterating the records (no decoding: the floor of any scapy-based reader) and
  ``PcapReader`` (scapy packets) on the first 100,000 packets, extrapolated x10 (a whole run takes minutes).

    ./dev bench pcap [--rounds 3] [--packets 1000000] [--keep FILE]

tshark is not a test dependency: when it is missing, this script installs it with apt-get (root only)
and says so. The file is deleted afterwards unless --keep names where to keep it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.netns import Namespace, lone_host

SERVER = """
import asyncio
class Echo(asyncio.Protocol):
    def connection_made(self, transport): self.transport = transport
    def data_received(self, data): self.transport.write(data)
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 8000, backlog=1024)
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""

CLIENTS = """
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[1])
limit = int(sys.argv[2])
message = b"x" * 100
count = 0
while count < limit and time.monotonic() < deadline:
    count += 1
    if count % 200 == 0:
        try:
            socket.create_connection(("127.0.0.1", 8001)).close()
        except ConnectionRefusedError:
            pass
        continue
    try:
        s = socket.create_connection(("127.0.0.1", 8000))
    except OSError:
        continue
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(8):
        s.sendall(message)
        got = 0
        while got < len(message):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += len(chunk)
    s.close()
    if sys.stdin.closed:
        break
print(count, flush=True)
"""

SCAPY_RAW = """
import sys
from scapy.utils import RawPcapReader
n = 0
for _data, _meta in RawPcapReader(sys.argv[1]):
    n += 1
print(n)
"""

SCAPY_FULL = """
import sys, logging
logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.utils import PcapReader
from scapy.layers.inet import TCP
n = flows = 0
seen = set()
for packet in PcapReader(sys.argv[1]):
    n += 1
    if TCP in packet:
        ip = packet.payload
        key = frozenset(((ip.src, packet[TCP].sport), (ip.dst, packet[TCP].dport)))
        seen.add(key)
    if n >= int(sys.argv[2]):
        break
print(n, len(seen))
"""


def ensure_tshark() -> None:
    if shutil.which("tshark"):
        return
    if os.geteuid() != 0:
        raise SystemExit("tshark is needed as the reference: install it (apt-get install tshark), or run "
                         "this bench as root and it will.")
    print("[bench] tshark is missing: installing it with apt-get (Debian package tshark; it is the "
          "reference of this bench only, not a test dependency)", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "tshark"], check=True,
                   env=env, stdout=subprocess.DEVNULL)


def make_capture(ns: Namespace, path: Path, packets: int) -> None:
    """Real traffic on the namespace's lo, recorded by tcpdump until it has ``packets`` packets."""
    server = ns.popen(sys.executable, "-c", SERVER)
    assert server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        raise SystemExit(f"the echo server did not start: {server.stderr.read() if server.stderr else ''}")
    dump = ns.popen("tcpdump", "-i", "lo", "-n", "-B", "65536", "-c", str(packets), "-w", str(path),
                    "tcp or icmp")
    assert dump.stderr is not None
    line = dump.stderr.readline()  # "listening on lo, ..." once the capture is open
    if "listening on" not in line:
        raise SystemExit(f"tcpdump did not start: {line}{dump.stderr.read()}")
    drain = threading.Thread(target=dump.stderr.read, daemon=True)
    drain.start()
    workers = [ns.popen(sys.executable, "-c", CLIENTS, "900", "400000", stdin=subprocess.PIPE)
               for _ in range(2)]
    try:
        dump.wait(timeout=900)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(10)
        server.terminate()
        server.wait(10)
    if dump.returncode != 0:
        raise SystemExit(f"tcpdump failed ({dump.returncode})")


def measure(argv: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS (MiB) of that one process, and its stdout."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if process.returncode not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed ({process.returncode}): {text[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the capture at this path")
    args = parser.parse_args()
    ensure_tshark()
    folder = Path(tempfile.mkdtemp(prefix="netdiag-pcap-bench-"))
    os.chmod(folder, 0o777)  # tcpdump drops to its own user before it writes
    path = folder / "load.pcap"
    try:
        with lone_host() as ns:
            started = time.perf_counter()
            make_capture(ns, path, args.packets)
            print(f"capture: {args.packets:,} packets, {path.stat().st_size / 2**20:.0f} MiB, made in "
                  f"{time.perf_counter() - started:.0f} s")
        tools = {
            "tshark -q -z conv,tcp": ["tshark", "-r", str(path), "-q", "-z", "conv,tcp"],
            "netdiag explain --pcap": [sys.executable, "-m", "netdiag", "explain", "--pcap", str(path)],
            "scapy RawPcapReader (no decoding)": [sys.executable, "-c", SCAPY_RAW, str(path)],
            "scapy PcapReader (100k packets) x10": [sys.executable, "-c", SCAPY_FULL, str(path), "100000"],
        }
        subprocess.run([sys.executable, "-m", "netdiag", "--version"], check=True, capture_output=True)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in tools}
        outputs: dict[str, str] = {}
        for round_number in range(args.rounds):
            for name, argv in tools.items():
                wall, cpu, rss, text = measure(argv)
                if name.endswith("x10"):
                    wall, cpu = wall * 10, cpu * 10
                results[name].append((wall, cpu, rss))
                outputs[name] = text
                print(f"round {round_number + 1}: {name:40} {wall:7.2f} s wall {cpu:7.2f} s CPU "
                      f"{rss:7.1f} MiB", flush=True)
        conversations = len(re.findall(r"^\S+:\d+\s+<->", outputs["tshark -q -z conv,tcp"], re.MULTILINE))
        ours = re.search(r"(\d+) connection\(s\) shown, (\d+) failed", outputs["netdiag explain --pcap"])
        print(f"\ntshark conversations: {conversations}; netdiag: "
              f"{ours.group(1) if ours else '?'} connections, {ours.group(2) if ours else '?'} failed")
        reference = statistics.median(w for w, _, _ in results["tshark -q -z conv,tcp"])
        reference_cpu = statistics.median(c for _, c, _ in results["tshark -q -z conv,tcp"])
        print("\n| reader | median wall | ratio (wall) | median CPU | ratio (CPU) | peak RSS |\n"
              "|---|---:|---:|---:|---:|---:|")
        for name, runs in results.items():
            wall = statistics.median(w for w, _, _ in runs)
            cpu = statistics.median(c for _, c, _ in runs)
            rss = max(r for _, _, r in runs)
            print(f"| {name} | {wall:.2f} s | {wall / reference:.2f}x | {cpu:.2f} s | "
                  f"{cpu / reference_cpu:.2f}x | {rss:.0f} MiB |")
        ratio = statistics.median(w for w, _, _ in results["netdiag explain --pcap"]) / reference
        print(f"\ntarget: netdiag <= tshark: {'met' if ratio <= 1.0 else 'NOT met'} ({ratio:.2f}x)")
        return 0 if ratio <= 1.0 else 1
    finally:
        if args.keep:
            shutil.copy(path, args.keep)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
