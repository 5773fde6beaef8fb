"""A real ``netdiag listen`` process for tests: started on 127.0.0.1:0, followed through its JSON log.

::

    with running_server("--mode", "reply") as server:
        with socket.create_connection((server.host, server.port)) as client:
            ...
        server.wait_for(lambda e: e["event"] == "close")

The reader thread parses every stdout line into ``server.events``; ``wait_for`` polls them with a
deadline (no sleeps). On exit the server gets SIGTERM and must exit 0 quickly, with no traceback: every
test that uses this helper also checks clean shutdown.
"""

from __future__ import annotations

import json
import resource
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil

from helpers.cli import NETDIAG, netdiag_env, popen_netdiag
from helpers.unprivileged import nobody_runtime
from helpers.waiting import wait_until

Event = dict[str, Any]
ENGINES = ("asyncio", "threads")
"""Every ``netdiag listen --engine``; tests take the ``engine`` fixture (tests/conftest.py) to run on each."""
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


@dataclass
class ServerHandle:
    process: subprocess.Popen[str]
    events: list[Event] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    host: str = ""
    port: int = 0

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 5.0,
                 what: str = "") -> Event:
        """The first event (in order) that satisfies ``predicate``; fail after ``timeout`` seconds."""
        def found() -> Event | None:
            return next((e for e in list(self.events) if predicate(e)), None)

        return wait_until(found, timeout=timeout, what=what or "a matching server event")  # type: ignore[return-value]

    def wait_for_event(self, kind: str, timeout: float = 5.0, **fields: Any) -> Event:
        """The first ``kind`` event whose fields include ``fields`` (e.g. ``peer=...``, ``reason=...``)."""
        return self.wait_for(
            lambda e: e.get("event") == kind and all(e.get(k) == v for k, v in fields.items()),
            timeout, what=f"event {kind} {fields}")

    def of(self, kind: str, **fields: Any) -> list[Event]:
        return [e for e in list(self.events)
                if e.get("event") == kind and all(e.get(k) == v for k, v in fields.items())]

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the server and return its exit code (fails if it does not exit within ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
            raise AssertionError(f"server did not exit within {timeout}s of signal {signum}") from None


def _read_events(handle: ServerHandle) -> None:
    assert handle.process.stdout is not None
    for line in handle.process.stdout:
        try:
            handle.events.append(json.loads(line))
        except json.JSONDecodeError:
            handle.events.append({"event": "unparsed", "line": line})


def _read_stderr(handle: ServerHandle) -> None:
    assert handle.process.stderr is not None
    for line in handle.process.stderr:
        handle.stderr_lines.append(line)


def nobody_tasks() -> int:
    """Threads that user nobody runs now: ``RLIMIT_NPROC`` counts every task of the user."""
    count = 0
    for process in psutil.process_iter(["uids", "num_threads"]):
        uids, threads = process.info["uids"], process.info["num_threads"]
        if uids is not None and uids.real == 65534 and threads:
            count += threads
    return count


@contextmanager
def running_server(*listen_args: str, address: str = "127.0.0.1:0", check_exit: bool = True,
                   netns: str | None = None, env: dict[str, str] | None = None,
                   open_files: int | None = None, max_threads: int | None = None) -> Iterator[ServerHandle]:
    """Start ``netdiag listen ADDRESS --log json LISTEN_ARGS``; yield once it listens; SIGTERM at the end.

    ``check_exit`` asserts that the server exits 0 on SIGTERM without a traceback (turn it off only in
    tests that stop the server themselves and check the exit on their own). ``netns`` runs it inside a
    network namespace made by the test (tests/helpers/netns.py); ``env`` replaces its environment
    (build it with ``helpers.cli.netdiag_env``); ``open_files`` sets the server's RLIMIT_NOFILE (soft
    and hard) to see what it does when descriptors run short. ``max_threads`` lets it start that many
    threads besides its main one: it runs as user nobody (root ignores ``RLIMIT_NPROC``) with
    ``RLIMIT_NPROC`` at what nobody's tasks already number plus ``1 + max_threads``.
    """
    args = ("listen", address, "--log", "json", *listen_args)
    if open_files is None and max_threads is None:
        process = popen_netdiag(*args, netns=netns, env=env)
    else:
        argv = [*NETDIAG, *args]
        child_env = env or netdiag_env()
        if max_threads is not None:
            tasks = nobody_tasks() + 1 + max_threads
            runtime = nobody_runtime()  # readable copies when the checkout is private (0700), or skip
            argv, child_env = runtime.argv("-m", "netdiag", *args), runtime.env(child_env)

        def limit() -> None:
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
            if max_threads is not None:
                resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))

        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, bufsize=1, env=child_env,
                                   preexec_fn=limit, cwd="/" if max_threads is not None else None)
    handle = ServerHandle(process)
    readers = [threading.Thread(target=_read_events, args=(handle,), daemon=True),
               threading.Thread(target=_read_stderr, args=(handle,), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        def started_or_gone() -> bool:
            listening = any(e.get("event") == "listening" for e in list(handle.events))
            return listening or process.poll() is not None

        wait_until(started_or_gone, timeout=START_TIMEOUT, what="netdiag listen to start")
        if process.poll() is not None:
            for reader in readers:
                reader.join(timeout=2)
            raise AssertionError(
                f"netdiag listen did not start (exit {process.poll()}):\n{''.join(handle.stderr_lines)}")
        listening = next(e for e in handle.events if e.get("event") == "listening")
        handle.host, handle.port = listening["host"], listening["port"]
        yield handle
    finally:
        code = handle.stop() if process.poll() is None else process.returncode
        for reader in readers:
            reader.join(timeout=2)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    if check_exit:
        stderr = "".join(handle.stderr_lines)
        assert code == 0, f"netdiag listen exited {code}:\n{stderr}"
        assert "Traceback" not in stderr, stderr


# -- small clients for talking to the server under test -------------------------------------------------

TINY = 7
"""Recv size that exercises framing: replies arrive in many small pieces."""


def recv_exactly(sock: socket.socket, count: int, *, chunk: int = TINY) -> bytes:
    """Read exactly ``count`` bytes in pieces of at most ``chunk`` (fails on early EOF)."""
    data = bytearray()
    while len(data) < count:
        piece = sock.recv(min(chunk, count - len(data)))
        assert piece, f"EOF after {len(data)} of {count} bytes: {bytes(data)!r}"
        data += piece
    return bytes(data)


def recv_until_eof(sock: socket.socket, *, chunk: int = TINY, limit: int = 1 << 24) -> bytes:
    """Everything until the server closes (bounded by ``limit`` bytes and the socket's timeout)."""
    data = bytearray()
    while len(data) < limit:
        piece = sock.recv(chunk)
        if not piece:
            break
        data += piece
    return bytes(data)


def recv_line(sock: socket.socket) -> bytes:
    """One line (ending in ``\\n``), read a byte at a time so nothing after it is consumed."""
    data = bytearray()
    while not data.endswith(b"\n"):
        piece = sock.recv(1)
        assert piece, f"EOF before end of line: {bytes(data)!r}"
        data += piece
    return bytes(data)


def connect(server: ServerHandle, *, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(server.address, timeout=timeout)


def peer_of(sock: socket.socket) -> str:
    """How the server's log names this client: ``127.0.0.1:PORT`` / ``[::1]:PORT``."""
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def lab_exchange(server: ServerHandle, message: bytes) -> bytes:
    """What the classic lab client does: connect, one send() without newline, one recv(1024)."""
    with connect(server) as sock:
        sock.sendall(message)
        return sock.recv(1024)
