"""The open-files budget of ``netdiag listen``, and the engine's last resort when its loop cannot start.

The CLI refuses to start below the budget's minimum (tests/reliability/test_open_files.py). Should the
count be wrong somewhere (another libuv opening more descriptors), ``run_server`` itself turns the
loop's failure to start into one sentence instead of uvloop's chained tracebacks: checked here by
calling it in a child whose RLIMIT_NOFILE is below what the loop needs, bypassing the CLI's check.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers.cli import netdiag_env

from netdiag.adapters.servers.descriptors import LOOP_DESCRIPTORS, DescriptorBudget, descriptors_in_use
from netdiag.adapters.servers.settings import ACCEPT_BATCH

CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit}))
from netdiag.adapters.servers import EventLog, ServerSettings, run_server
from netdiag.core.failures import NetdiagError
from netdiag.render.log_lines import json_line
try:
    run_server(ServerSettings(), EventLog(json_line, sys.stdout))
except NetdiagError as err:
    print("said:", type(err).__name__, getattr(err, "loop", None), err.errno, err.message)
    sys.exit(err.exit_status)
"""


@pytest.mark.parametrize("limit", [8, 12])
def test_a_loop_that_cannot_open_its_files_is_explained(limit: int) -> None:
    """uvloop, which opens the most: at 8 its loop fails to be made, at 12 its signal socketpair fails
    once the loop runs (uvloop then raises RuntimeErrors about itself, chained to the EMFILE). The
    standard library's loop is not checked here: a half-made loop prints an ignored AttributeError from
    its ``__del__`` whatever the caller does, so only the CLI's count (which never gets that far) keeps
    that one quiet."""
    pytest.importorskip("uvloop")
    done = subprocess.run([sys.executable, "-c", CHILD.format(limit=limit)], capture_output=True,
                          text=True, env=netdiag_env(), timeout=30)
    assert done.returncode == 1, done
    assert "said: LoopOutOfFiles uvloop 24 the event loop (uvloop) could not open" in done.stdout, done
    assert "Traceback" not in done.stderr, done.stderr


def test_the_budget_shares_out_the_limit() -> None:
    budget = DescriptorBudget(limit=64, in_use=4, loop=LOOP_DESCRIPTORS["uvloop"])
    assert budget.fixed == 16  # stdio + listener, the loop's 10, 2 spare
    assert budget.turn_away == 6  # an eighth of the 48 left
    assert budget.clients == 42 and budget.enough
    big = DescriptorBudget(limit=100_000, in_use=4, loop=LOOP_DESCRIPTORS["uvloop"])
    assert big.turn_away == ACCEPT_BATCH
    lowest = DescriptorBudget(limit=18, in_use=4, loop=LOOP_DESCRIPTORS["uvloop"])
    assert lowest.minimum == 18 and lowest.clients == 1 and lowest.turn_away == 1
    assert not DescriptorBudget(limit=17, in_use=4, loop=LOOP_DESCRIPTORS["uvloop"]).enough
    udp = DescriptorBudget(limit=16, in_use=4, loop=LOOP_DESCRIPTORS["uvloop"], udp=True)
    assert udp.enough and udp.clients == 0


def test_descriptors_in_use_counts_only_those_below_the_limit() -> None:
    before = descriptors_in_use(1 << 20)
    pipes = [os.pipe() for _ in range(3)]
    try:
        assert descriptors_in_use(1 << 20) == before + 6
        lowest = min(fd for pair in pipes for fd in pair)
        assert descriptors_in_use(lowest) <= lowest  # the pipes' numbers are not below it
    finally:
        for read_end, write_end in pipes:
            os.close(read_end)
            os.close(write_end)
