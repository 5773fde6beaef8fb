"""The helper that runs netdiag as ``nobody`` (tests/helpers/unprivileged.py): its fallback for private
checkouts, copies in a readable folder, must itself work, even where the checkout is readable and the
tests never need it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.unprivileged import PROBE, Runtime, _readable_copy

pytestmark = pytest.mark.root


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as nobody")
def test_the_readable_copy_runs_netdiag_as_nobody() -> None:
    copy = _readable_copy()
    for folder, _dirs, files in os.walk(copy):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755
        assert all(os.stat(os.path.join(folder, f)).st_mode & stat.S_IROTH for f in files)
    runtime = Runtime(os.path.realpath(sys.executable), copy)
    probe = subprocess.run(runtime.argv("-c", f"{PROBE}; print(netdiag.__file__)"), capture_output=True,
                           text=True, timeout=60, env=runtime.env(), cwd="/")
    if probe.returncode != 0 and "Permission denied" in probe.stderr:
        pytest.skip(f"nobody cannot run the interpreter {runtime.python}: {probe.stderr.strip()}")
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(copy)  # the copy, not the checkout
    listing = subprocess.run(runtime.argv("-m", "netdiag", "sockets", "--summary"), capture_output=True,
                             text=True, timeout=60, env=runtime.env(), cwd="/")
    assert listing.returncode == 0 and listing.stdout.startswith("Total:"), listing.stderr
