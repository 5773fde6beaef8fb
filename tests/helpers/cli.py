"""Run netdiag the way users do: as a real process (``python -m netdiag``), or, for tests that need no
process of their own, in this one (``invoke_netdiag``, the same bytes without the ~150 ms of start-up).

``invoke_netdiag`` calls the real entry point (``netdiag.cli.main.run``) with what a child would get: the
environment given (``NO_COLOR``, ``COLUMNS`` ... decide colour and widths as in a child), stdin from
``input`` or /dev/null, stdout and stderr into files, ``sys.argv`` as ``python -m netdiag`` sets it; the
output is decoded and its newlines translated as ``subprocess.run(text=True)`` does. Afterwards the
environment, the standard streams, the signal handlers and the warning filters are as they were, and no
thread it started is left running. tests/cli/test_in_process.py compares both runners byte for byte.

Keep ``run_netdiag`` (a process) for what only a process shows: signals and Ctrl-C, the modules loaded at
start-up, a terminal or a closed pipe on stdin/stdout, the encoding of the streams, ``ip netns exec``,
the emulated platform profiles (their sitecustomize runs at start-up), servers in the foreground, forked
probe workers (4,096 ports or more).
"""

from __future__ import annotations

import contextlib
import gc
import io
import locale
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

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


@dataclass(frozen=True)
class Result:
    """How a netdiag run ended: the attributes of ``subprocess.CompletedProcess`` that tests read."""

    returncode: int
    stdout: str
    stderr: str

    @classmethod
    def of(cls, done: subprocess.CompletedProcess[str]) -> Result:
        return cls(done.returncode, done.stdout, done.stderr)


THREADS_DEADLINE_S = 10.0
"""How long the threads a run started may take to end after it returned (then the runner fails)."""
_STARTUP_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "NETDIAG_PROFILE")
"""Read by the interpreter (or a profile's sitecustomize) at start-up: this process cannot change them."""
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", "SIGCHLD",
                                                     "SIGUSR1", "SIGUSR2", "SIGWINCH")
                 if hasattr(signal, name))


def invoke_netdiag(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``netdiag ARGS`` in this process, as ``run_netdiag(*args, input=input, env=env)`` would in a
    child: same exit code, same stdout and stderr (see the module)."""
    child_env = env if env is not None else netdiag_env()
    _refuse_startup_differences(child_env)
    encoding = child_env.get("PYTHONIOENCODING", "").split(":")[0] or locale.getpreferredencoding(False)
    with contextlib.ExitStack() as stack:
        raw_in = stack.enter_context(_stdin_file(input))
        raw_out = stack.enter_context(tempfile.TemporaryFile())
        raw_err = stack.enter_context(tempfile.TemporaryFile())
        streams = [io.TextIOWrapper(raw, encoding=encoding, newline="\n", write_through=True)
                   for raw in (raw_in, raw_out, raw_err)]
        stack.callback(_detach, streams)  # first: the files then close themselves
        with _as_a_child(streams, child_env, list(args)):
            code = _run(list(args))
        for stream in streams[1:]:
            with contextlib.suppress(ValueError):  # closed by the command
                stream.flush()
        return Result(code, _decoded(raw_out, encoding), _decoded(raw_err, encoding))


def _detach(streams: list[io.TextIOWrapper]) -> None:
    for stream in streams:
        with contextlib.suppress(ValueError):  # closed by the command
            stream.detach()


def _refuse_startup_differences(env: dict[str, str]) -> None:
    names = {name for name in {*env, *os.environ}
             if name in _STARTUP_VARIABLES or (name.startswith("PYTHON") and name != "PYTHONUNBUFFERED")}
    differ = sorted(name for name in names if env.get(name) != os.environ.get(name))
    if differ:
        raise ValueError(f"{', '.join(differ)} act at interpreter start-up: use run_netdiag for this run")


@contextlib.contextmanager
def _stdin_file(input: str | None) -> Iterator[BinaryIO]:
    """A real file behind stdin (``connect`` reads its descriptor): the input, or /dev/null as in a child."""
    if input is None:
        with open(os.devnull, "rb") as devnull:
            yield devnull
        return
    with tempfile.TemporaryFile() as file:
        encoding = locale.getpreferredencoding(False)  # as subprocess.run(text=True) writes it
        file.write(input.encode(encoding))
        file.seek(0)
        yield file  # type: ignore[misc]


@contextlib.contextmanager
def _as_a_child(streams: list[io.TextIOWrapper], env: dict[str, str], args: list[str]) -> Iterator[None]:
    """This process dressed as a fresh ``python -m netdiag ARGS``: its streams, environment, argv, warning
    filters and a fresh ``Output``; the run's threads awaited, then everything put back."""
    import netdiag
    from netdiag.cli import common

    saved_streams = (sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__)
    saved_env, saved_argv = dict(os.environ), sys.argv
    saved_signals = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    threads_before = set(threading.enumerate())
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams  # shutil.get_terminal_size reads __stdout__
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [os.path.join(os.path.dirname(netdiag.__file__), "__main__.py"), *args]
    common._state.clear()  # the Output of an earlier run holds that run's streams
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()  # a child's default filters: shown on stderr, not recorded by pytest
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            yield
    finally:
        try:
            _await_threads(threads_before)
        finally:
            gc.unfreeze()  # run() froze this process's objects for a fast exit; this process goes on
            common._state.clear()
            (sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__) = saved_streams
            os.environ.clear()
            os.environ.update(saved_env)
            sys.argv = saved_argv
            for signum, handler in saved_signals.items():
                if handler is not None and signal.getsignal(signum) != handler:
                    signal.signal(signum, handler)


def _run(argv: list[str]) -> int:
    """``netdiag.cli.main.run(argv)``'s exit status; an uncaught exception ends as the interpreter ends
    a program: its traceback on stderr and status 1."""
    from netdiag.cli.main import run

    try:
        run(argv)
    except SystemExit as end:
        if end.code is None or isinstance(end.code, int):
            return end.code or 0
        print(end.code, file=sys.stderr)
        return 1
    except Exception:  # a bug: reported as Python would (pytest's own outcomes, BaseException, pass)
        traceback.print_exc()
        return 1
    return 0


def _await_threads(before: set[threading.Thread]) -> None:
    """A process's daemon threads die with it; here they would outlive the run (reading a closed stdin
    descriptor that another file may reuse): each must end, within a deadline."""
    deadline = time.monotonic() + THREADS_DEADLINE_S
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    left = [thread.name for thread in set(threading.enumerate()) - before if thread.is_alive()]
    if left:
        raise AssertionError(f"netdiag left threads running after it returned: {left}; "
                             "run this command with run_netdiag")


def _decoded(raw: BinaryIO, encoding: str) -> str:
    """What ``subprocess.run(text=True)`` gives for these bytes: decoded, CRLF and CR turned into LF."""
    raw.seek(0)
    text = raw.read().decode(encoding)
    return text.replace("\r\n", "\n").replace("\r", "\n")
