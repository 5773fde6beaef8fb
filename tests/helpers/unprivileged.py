"""Running netdiag as another user (``nobody``) from any checkout, for the tests that need no privileges.

A checkout inside a private directory (Debian 12 creates home directories 0700) cannot be read by
``nobody``: a child dropped to it found no ``netdiag`` ("No module named netdiag"). So the first test that
asks gets a runtime checked by a real probe: the checkout as it is when ``nobody`` can import netdiag
and its dependencies from it; otherwise copies of the package and of the distributions it needs, in a
0755 directory under the system's temporary folder, run by the base interpreter; otherwise the test is
skipped with the probe's reason (the interpreter itself unreadable, for example).

::

    runtime = nobody_runtime()          # skips the test when nothing works
    subprocess.run(runtime.argv("-m", "netdiag", "sockets"), env=runtime.env(netdiag_env()), cwd="/")
"""

from __future__ import annotations

import atexit
import functools
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
PROBE = "import netdiag.cli.main, psutil, typer, tabulate"


@dataclass(frozen=True)
class Runtime:
    """How to run Python as ``nobody`` with netdiag importable: the interpreter and a PYTHONPATH."""

    python: str
    pythonpath: str | None = None  # the readable copies; None: the checkout itself is readable

    def argv(self, *args: str) -> list[str]:
        return [*NOBODY, self.python, *args]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        if self.pythonpath is not None:
            env.update({"PYTHONPATH": self.pythonpath, "PYTHONNOUSERSITE": "1",
                        "PYTHONDONTWRITEBYTECODE": "1"})
        return env


def _probe(runtime: Runtime) -> str | None:
    """None when ``nobody`` can import netdiag with ``runtime``, else what went wrong."""
    result = subprocess.run(runtime.argv("-c", PROBE), capture_output=True, text=True, timeout=60,
                            env=runtime.env(), cwd="/")
    return None if result.returncode == 0 else (result.stderr.strip().splitlines() or ["failed"])[-1]


DISTRIBUTION = "netdiag-lab"  # pyproject's [project] name: the distribution of the ``netdiag`` package


def _needed_distributions(name: str = DISTRIBUTION) -> list[importlib.metadata.Distribution]:
    """``name``'s runtime requirements, recursively (no extras), as installed here."""
    from packaging.requirements import Requirement

    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        try:
            dist = importlib.metadata.distribution(current)
        except importlib.metadata.PackageNotFoundError:
            continue  # a requirement for another platform, not installed here
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return [d for k, d in seen.items() if k != name.lower()]


def _readable_copy() -> str:
    """A 0755 directory with copies of the netdiag package and its dependencies; removed at exit."""
    import netdiag

    root = Path(tempfile.mkdtemp(prefix="netdiag-nobody-"))
    atexit.register(shutil.rmtree, root, True)
    shutil.copytree(Path(netdiag.__file__).parent, root / "netdiag",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for dist in _needed_distributions():
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue  # scripts outside site-packages, and bytecode
            source = Path(str(file.locate()))
            if source.is_file():
                (root / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, root / file)
    for folder, _dirs, files in os.walk(root):  # readable by everyone, whatever the umask
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return str(root)


@functools.cache
def _runtime() -> Runtime | str:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "needs root and setpriv to run a child as nobody"
    in_place = Runtime(sys.executable, None)
    if _probe(in_place) is None:
        return in_place
    copied = Runtime(os.path.realpath(sys.executable), _readable_copy())
    problem = _probe(copied)
    if problem is not None:
        return f"nobody cannot run {copied.python} with copies of netdiag in {copied.pythonpath}: {problem}"
    return copied


def nobody_runtime() -> Runtime:
    """The runtime for a child dropped to ``nobody``; skips the calling test when there is none."""
    runtime = _runtime()
    if isinstance(runtime, str):
        pytest.skip(runtime)
    return runtime
