"""Which heavy packages a netdiag command loads: start-up is a feature, so tests check it in a fresh process.

``heavy_packages_loaded(["probe", "127.0.0.1:8000"])`` runs ``netdiag.cli.main.main(ARGS)`` in a new
interpreter (nothing imported by the test process can hide a slow import) and reports, after the
command has run, which of ``HEAVY`` it had imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

HEAVY = ("pydantic", "psutil", "scapy", "tabulate")


@dataclass(frozen=True)
class ImportCheck:
    """How the command exited, the heavy packages it had loaded by then (sorted), and its stderr."""

    returncode: int
    heavy: list[str]
    stderr: str


def heavy_packages_loaded(args: Sequence[str], heavy: Sequence[str] = HEAVY,
                          timeout: float = 60) -> ImportCheck:
    """Run the command ``args`` through ``main()`` in a fresh interpreter; which of ``heavy`` it loaded.

    The list is the last line the child writes to stderr (stdout stays the command's own).
    """
    code = (
        "import json, sys; from netdiag.cli.main import main; "
        f"code = main({list(args)!r}); "
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({list(heavy)!r})); "
        "print(json.dumps(loaded), file=sys.stderr); sys.exit(code)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    try:
        loaded = json.loads(result.stderr.strip().splitlines()[-1])
    except (IndexError, ValueError):  # the child died before its report: a check that must fail
        loaded = [f"(no report; stderr: {result.stderr!r})"]
    return ImportCheck(result.returncode, loaded, result.stderr)
