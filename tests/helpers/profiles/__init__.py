"""Capability profiles: run a netdiag child as if on macOS or Windows (see sitecustomize.py here).

``profile_env("windows", netdiag_env())`` is the environment to give ``run_netdiag``/``popen_netdiag``.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILES = ("macos", "windows")


def profile_env(profile: str, env: dict[str, str]) -> dict[str, str]:
    """``env`` plus this directory first on PYTHONPATH (its sitecustomize) and NETDIAG_PROFILE."""
    paths = [str(HERE), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return {**env, "PYTHONPATH": os.pathsep.join(paths), "NETDIAG_PROFILE": profile}
