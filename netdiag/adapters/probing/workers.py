"""Big scans split across forked workers, one per usable CPU (at most ``MAX_WORKERS``).

On loopback most of a scan's cost is the kernel's connect() and the interpreter around it, both of which
scale with cores. Each worker runs the same loop (connect or SYN: the caller's ``ScanFactory``) on an
interleaved share of the jobs and sends its outcomes back through a pipe; the parent merges them in job
order. Where ``fork`` is missing (Windows) every scan runs in one process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
from collections.abc import Callable, Sequence
from typing import Any

from netdiag.adapters import platform
from netdiag.adapters.probing.engine import Outcome, ProbeJob, Progress, Scan

DEFAULT_CONCURRENCY = 1000
PARALLEL_FROM = 4096  # fewer jobs than this finish before forking workers would pay off
MAX_WORKERS = 4

ScanFactory = Callable[[Sequence[ProbeJob], int, "Progress | None"], Scan]
"""Builds the loop for one share of the jobs: (jobs, probes in flight, progress callback) -> a Scan."""


def worker_count(jobs: int, concurrency: int = DEFAULT_CONCURRENCY, workers: int | None = None) -> int:
    """How many processes a scan of ``jobs`` probes uses: one per usable CPU for big scans (or
    ``workers`` when given), never more than ``concurrency``, since each has a probe in flight."""
    if workers is None:
        if jobs < PARALLEL_FROM or not platform.has_fork():
            return 1
        workers = min(platform.usable_cpus(), MAX_WORKERS)
    return max(1, min(workers, jobs, concurrency))


def run_scan(factory: ScanFactory, jobs: Sequence[ProbeJob], concurrency: int, progress: Progress | None,
         workers: int | None) -> list[Outcome]:
    count = worker_count(len(jobs), concurrency, workers)
    if count == 1:
        return factory(jobs, concurrency, progress).run()
    return _run_forked(factory, jobs, concurrency, progress, count)



# --- forked workers ---------------------------------------------------------------------------------
# Frames on a worker's pipe: 1 byte kind (b"P" progress, b"R" result), 4 bytes length, a pickle.

_HEADER = struct.Struct("!cI")


def _run_forked(factory: ScanFactory, jobs: Sequence[ProbeJob], concurrency: int,
                progress: Progress | None, count: int) -> list[Outcome]:
    shares = [range(k, len(jobs), count) for k in range(count)]
    per_worker = max(1, concurrency // count)
    children: dict[int, tuple[int, range]] = {}  # read fd -> (pid, share)
    finished = False
    try:
        for share in shares:
            read_fd, write_fd = os.pipe()
            pid = platform.fork_process()
            if pid == 0:  # the worker: never returns into the caller's code
                os.close(read_fd)
                _worker(factory, [jobs[i] for i in share], per_worker, write_fd, progress is not None)
            os.close(write_fd)
            children[read_fd] = (pid, share)
        outcomes = _collect(children, len(jobs), progress)
        finished = True
        return outcomes
    finally:
        for read_fd, (pid, _) in children.items():
            os.close(read_fd)
            if not finished:  # interrupted or failed: the workers' results are no longer wanted
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            _reap(pid)


def _worker(factory: ScanFactory, share: list[ProbeJob], in_flight: int, write_fd: int,
            report_progress: bool) -> None:
    """Run one share and send its outcomes; exit without running the parent's cleanup (os._exit)."""
    status = 1
    try:
        def report(done: int, total: int) -> None:
            _send(write_fd, b"P", done)

        outcomes = factory(share, in_flight, report if report_progress else None).run()
        _send(write_fd, b"R", outcomes)
        status = 0
    except KeyboardInterrupt:
        status = 130
    finally:
        os._exit(status)


def _send(fd: int, kind: bytes, value: object) -> None:
    import pickle  # only forked scans need it: a single probe does not pay for the import

    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(_HEADER.pack(kind, len(body)) + body)
    while data:
        data = data[os.write(fd, data):]


def _collect(children: dict[int, tuple[int, range]], total: int,
             progress: Progress | None) -> list[Outcome]:
    import select

    outcomes: list[Outcome | None] = [None] * total
    buffers = {fd: bytearray() for fd in children}
    done = dict.fromkeys(children, 0)
    open_fds = set(children)
    while open_fds:
        readable, _, _ = select.select(list(open_fds), [], [])
        for fd in readable:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                open_fds.discard(fd)
                continue
            buffers[fd] += chunk
            for kind, value in _frames(buffers[fd]):
                if kind == b"P":
                    done[fd] = value
                else:
                    for index, outcome in zip(children[fd][1], value, strict=True):
                        outcomes[index] = outcome
                    done[fd] = len(children[fd][1])
            if progress is not None:
                progress(sum(done.values()), total)
    missing = sum(outcome is None for outcome in outcomes)
    if missing:
        raise RuntimeError(f"a scan worker ended without reporting {missing} outcomes (it crashed)")
    return [outcome for outcome in outcomes if outcome is not None]


def _frames(buffer: bytearray) -> list[tuple[bytes, Any]]:
    import pickle

    frames: list[tuple[bytes, Any]] = []
    while len(buffer) >= _HEADER.size:
        kind, length = _HEADER.unpack_from(buffer)
        if len(buffer) < _HEADER.size + length:
            break
        frames.append((kind, pickle.loads(buffer[_HEADER.size : _HEADER.size + length])))
        del buffer[: _HEADER.size + length]
    return frames


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # already reaped
        os.waitpid(pid, 0)
