"""`netdiag explain --error -` on big and adversarial pasted texts: the work must be linear in the input.

Target (issue "Reliability round 2", item 14): 10 MB of any text explained in under 2 s. The reader used to
be quadratic on some texts ('TCP connect to (' repeated: 256 KB 1.7 s, 1 MB 26 s, 10 MB about 40 min):
one of its patterns backtracked over the rest of the text from every occurrence. It now searches at most
the first and last 32 Ki characters (``netdiag.core.error_text.SCAN_LIMIT``) with bounded patterns.

    ./dev bench explain_error [--sizes 262144,1048576,10485760] [--rounds 3]

Each text is piped into a real `netdiag explain --error -` process; prints the median wall time per text
and size, and alongside, as the reference, the time `python3 -c 'import sys; sys.stdin.read()'` takes to
read the same bytes (the floor: a process that only reads its input), and the ratio of the two.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

PATTERNS = {
    "tcp-connect-paren": "TCP connect to (",
    "errno-open": "[Errno ",
    "winerror-open": "[WinError ",
    "errno-eq-digits": "errno=" + "9" * 50 + " ",
    "quote-paren": "('",
    "spaces": " ",
    "digits": "9",
    "refused-lines": "ConnectionRefusedError: [Errno 111] Connection refused\n",
}


def _run(argv: list[str], data: bytes) -> float:
    began = time.perf_counter()
    subprocess.run(argv, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   timeout=600)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="262144,1048576,10485760",
                        help="text sizes in bytes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    netdiag = [sys.executable, "-m", "netdiag", "explain", "--error", "-"]
    floor = [sys.executable, "-c", "import sys; sys.stdin.read()"]
    print(f"load average {os.getloadavg()[0]:.1f}; {args.rounds} round(s), medians")
    print(f"{'text':<18} {'size':>10} {'netdiag':>9} {'read only':>10} {'ratio':>6}  target < 2 s")
    worst = 0.0
    for name, unit in PATTERNS.items():
        for size in sizes:
            data = (unit * (size // len(unit) + 1))[:size].encode()
            ours = statistics.median(_run(netdiag, data) for _ in range(args.rounds))
            base = statistics.median(_run(floor, data) for _ in range(args.rounds))
            worst = max(worst, ours)
            verdict = "met" if ours < 2 else "MISSED"
            print(f"{name:<18} {size:>10,} {ours:>8.2f}s {base:>9.2f}s {ours / base:>6.1f}  {verdict}")
    print(f"worst: {worst:.2f} s ({'met' if worst < 2 else 'MISSED'})")


if __name__ == "__main__":
    main()
