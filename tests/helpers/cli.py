"""Run netdiag as a real process, the way users do (``python -m netdiag``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

NETDIAG = [sys.executable, "-m", "netdiag"]


def netdiag_env(**extra: str) -> dict[str, str]:
    """The environment for a netdiag child: no colour unless a test asks, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    env.update({"PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "120"})
    env.update(extra)
    return env


def run_netdiag(
    *args: str,
    netns: str | None = None,
    timeout: float = 60,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``netdiag ARGS`` to completion (inside network namespace ``netns`` when given)."""
    argv: Sequence[str] = [*NETDIAG, *args]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, input=input,
        env=env or netdiag_env(), stdin=None if input is not None else subprocess.DEVNULL,
    )


def popen_netdiag(*args: str, netns: str | None = None,
                  env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``netdiag ARGS`` in the background with piped, line-buffered text streams."""
    argv: list[str] = [*NETDIAG, *args]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        bufsize=1, env=env or netdiag_env(),
    )
