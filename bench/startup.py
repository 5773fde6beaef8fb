"""Start-up time of `netdiag --help` and `netdiag --version`, as whole processes, against `import typer`.

Target (issue 5): each at most 1.5x the wall time of `python -c "import typer"` (the floor for any typer
CLI), measured in the same run. Runs are interleaved (one of each per round) so a busy machine slows all
of them alike; the median of many rounds is reported, with the ratio to the typer reference.

    ./dev bench startup [--rounds 40]

It also checks, once, that neither command imported scapy, psutil or tabulate, and lists the biggest
imports of `netdiag --help` (python -X importtime).
"""

from __future__ import annotations

import argparse
import ast
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_RATIO = 1.5
HEAVY = ("scapy", "psutil", "tabulate")


def _netdiag_script() -> str:
    script = Path(sys.executable).with_name("netdiag")
    return str(script) if script.exists() else ""


def cases() -> dict[str, list[str]]:
    script = _netdiag_script()
    found = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import typer" (reference)': [sys.executable, "-c", "import typer"],
        "python -m netdiag --help": [sys.executable, "-m", "netdiag", "--help"],
        "python -m netdiag --version": [sys.executable, "-m", "netdiag", "--version"],
    }
    if script:
        found["netdiag --help"] = [script, "--help"]
        found["netdiag --version"] = [script, "--version"]
    return found


def time_once(argv: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # No timeout here: with one, Popen.wait polls with sleeps of up to 50 ms and quantises the result.
    returncode = subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if returncode != 0:
        raise SystemExit(f"{argv} exited {returncode}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_modules(args: list[str]) -> list[str]:
    probe = (
        f"import sys; from netdiag.cli.main import main; main({args!r}); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    found: list[str] = ast.literal_eval(result.stdout.strip().splitlines()[-1])  # the list printed above
    return found


def biggest_imports(args: list[str], count: int = 6) -> list[tuple[str, float]]:
    """The top-level imports of ``netdiag ARGS`` with their cumulative time (``python -X importtime``)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "netdiag", *args],
                            capture_output=True, text=True, timeout=60)
    found = []
    for line in result.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue
        name = fields[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2  # importtime indents each nested import by two
        if depth <= 2:  # netdiag's own modules and what they import directly (typer, ...)
            found.append((name.strip(), int(fields[1]) / 1000))
    return sorted(found, key=lambda item: -item[1])[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="runs of each command (default 40)")
    options = parser.parse_args()

    commands = cases()
    # Byte-compile netdiag as an installed package is: with PYTHONDONTWRITEBYTECODE set (or a read-only
    # tree), a module edited since its last .pyc is compiled again by every run and the figures lie.
    package = Path(__file__).resolve().parent.parent / "netdiag"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, timeout=120)
    for argv in commands.values():  # warm the page cache
        time_once(argv)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(options.rounds):
        for name, argv in commands.items():
            wall, cpu = time_once(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)

    reference_name = 'python -c "import typer" (reference)'
    reference = statistics.median(walls[reference_name])
    reference_cpu = statistics.median(cpus[reference_name])
    print(f"{options.rounds} rounds, median per whole process (Python {sys.version.split()[0]})")
    print(f"{'command':<40} {'wall ms':>8} {'min ms':>7} {'ratio':>6} {'cpu ms':>7} {'ratio':>6}")
    worst = 0.0
    for name in commands:
        median, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        ratio = median / reference
        if "netdiag" in name:
            worst = max(worst, ratio)
        print(f"{name:<40} {median * 1000:>8.1f} {min(walls[name]) * 1000:>7.1f} {ratio:>5.2f}x"
              f" {cpu * 1000:>7.1f} {cpu / reference_cpu:>5.2f}x")
    for args in (["--help"], ["--version"]):
        print(f"heavy modules imported by netdiag {args[0]}: {heavy_modules(args) or 'none'}")
    imports = ", ".join(f"{name} {ms:.1f} ms" for name, ms in biggest_imports(["--help"]))
    print(f"biggest imports of netdiag --help (cumulative, one run): {imports}")
    verdict = "meets" if worst <= TARGET_RATIO else "MISSES"
    print(f"worst netdiag ratio {worst:.2f}x: {verdict} the {TARGET_RATIO}x target")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
