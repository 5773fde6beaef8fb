"""One probe as a whole process: `netdiag probe 127.0.0.1:PORT` vs a python3 one-liner doing the connect.

Start-up is part of the product: a single probe must cost at most 3x the time of

    python3 -c 'import socket; socket.create_connection(("127.0.0.1", PORT), 2).close()'

Both run with the same interpreter, alternating, against a listener this script opens on loopback.

    ./dev bench probe_startup [--rounds 20]

Prints medians, the ratio, and the biggest imports of `netdiag probe` (python -X importtime).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

NETDIAG_SCRIPT = shutil.which("netdiag", path=os.path.dirname(sys.executable)) or "netdiag"


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return time.perf_counter() - started


def biggest_imports(port: int, count: int = 8) -> list[tuple[int, str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "netdiag", "probe", f"127.0.0.1:{port}", "-f", "json"],
        capture_output=True, text=True, timeout=60,
    )
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 2:  # top-level imports only (cumulative time)
            rows.append((int(match.group(1)), match.group(3)))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        one_liner = [sys.executable, "-c",
                     f"import socket; socket.create_connection(('127.0.0.1', {port}), 2).close()"]
        variants = {
            "one-liner": one_liner,
            "netdiag (json)": [NETDIAG_SCRIPT, "probe", f"127.0.0.1:{port}", "--format", "json"],
            "netdiag (table)": [NETDIAG_SCRIPT, "probe", f"127.0.0.1:{port}"],
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, argv in variants.items():
                times[name].append(timed(argv))
        imports = biggest_imports(port)
    base = statistics.median(times["one-liner"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:16} median {median * 1000:7.1f} ms  (best {min(samples) * 1000:6.1f} ms)  "
              f"ratio {median / base:4.2f}")
    print("biggest imports of `netdiag probe ... -f json` (cumulative, µs):")
    for micros, name in imports:
        print(f"  {micros:8d}  {name}")


if __name__ == "__main__":
    main()
