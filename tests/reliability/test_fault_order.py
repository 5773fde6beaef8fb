"""The fault suite does not depend on the order of its tests (``pytest -p no:randomly`` is not needed).

Two of its configurations run in a child pytest, their tests shuffled with a fixed seed (printed, so a
failure replays) and the shutdown test moved off the end: the scenarios after it must get a fresh server.
pytest keeps the order of explicit node ids within a configuration (it only groups them by its servers).
Run the whole suite shuffled with ``ORDER_SEED=N pytest tests/reliability/test_fault_order.py`` and
``FAULT_CONFIGS=all``.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = "tests/reliability/test_faults.py"
ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("ORDER_SEED", "20261206"))
CONFIGS = os.environ.get("FAULT_CONFIGS", "greet-asyncio,greet-threads").split(",")
"""The cheapest, one per engine (greet: its slow-reader scenario is skipped); ``all``: every one."""
LAST = "test_clean_shutdown_after_the_faults"


def _pytest(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def shuffled(ids: list[str], seed: int) -> list[str]:
    """``ids`` in a random order where no configuration ends with its shutdown test."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    for config in {re.sub(r".*\[(.*)\]$", r"\1", node) for node in order}:
        mine = [i for i, node in enumerate(order) if node.endswith(f"[{config}]")]
        if LAST in order[mine[-1]]:  # swap it with the configuration's first test
            order[mine[0]], order[mine[-1]] = order[mine[-1]], order[mine[0]]
    return order


def test_shuffling_never_leaves_the_shutdown_last() -> None:
    ids = [f"{SUITE}::{name}[{config}]" for config in ("a", "b") for name in ("t1", "t2", LAST)]
    for seed in range(50):
        order = shuffled(ids, seed)
        assert sorted(order) == sorted(ids)
        for config in ("a", "b"):
            assert LAST not in [node for node in order if node.endswith(f"[{config}]")][-1]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_fault_suite_passes_in_a_shuffled_order() -> None:
    listed = _pytest("--co", "-q", SUITE, timeout=120)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    ids = [line for line in listed.stdout.splitlines() if line.startswith(f"{SUITE}::")]
    chosen = ids if CONFIGS == ["all"] else [i for i in ids if any(i.endswith(f"[{c}]") for c in CONFIGS)]
    assert chosen, f"no test of {CONFIGS} in {SUITE}"
    order = shuffled(chosen, SEED)
    print(f"seed {SEED}:", *order, sep="\n  ")
    result = _pytest("-q", "-p", "no:randomly", *order, timeout=840)  # this order, not pytest-randomly's
    assert result.returncode == 0, f"seed {SEED}:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
