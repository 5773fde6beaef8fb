"""`netdiag listen` under a low open-files limit (RLIMIT_NOFILE set in the child, as ``ulimit -n`` does).

Each connection is a descriptor, and so are the server's own: the standard streams, the listener, and
the event loop's (uvloop's libuv opens ten). Below what the engine needs the server must refuse to start
with one clear sentence and exit 1, never a traceback or an abort (uvloop used to abort with exit 134 at
``ulimit -n 5`` and trace back at 8 to 13). Above it, it must say how many clients it serves, serve that
many at once, and tell the next one it is busy; with 64 descriptors that is most of them (it used to be
one: a fixed reserve of 128 descriptors).
"""

from __future__ import annotations

import json
import re
import resource
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import pytest
from helpers.cli import NETDIAG, netdiag_env
from helpers.servers import recv_line
from helpers.waiting import wait_until

RUNS: dict[str, tuple[str, dict[str, str]]] = {
    "asyncio": ("asyncio", {}),
    "asyncio-stdlib": ("asyncio", {"NETDIAG_LOOP": "asyncio"}),
    "threads": ("threads", {}),
}
LIMITS = [5, 8, 10, 12, 13, 64]
"""The limits of the report: 5 (uvloop aborted), 8 to 13 (tracebacks), 64 (served one client)."""
ROOM_AT_64 = 24
"""At ``ulimit -n 64`` at most this many descriptors may go unused by clients (uvloop's loop alone
takes ten; a few turn away the clients over the limit)."""


@dataclass
class Started:
    process: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @property
    def port(self) -> int | None:
        for line in list(self.stdout):
            event = json.loads(line)
            if event.get("event") == "listening":
                return int(event["port"])
        return None


@contextmanager
def listen_with_limit(run: str, limit: int) -> Iterator[Started]:
    """``netdiag listen 0 --mode reply`` with RLIMIT_NOFILE ``limit``; yields once it listens or exited."""
    engine, extra = RUNS[run]

    def lower_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    process = subprocess.Popen([*NETDIAG, "listen", "0", "--log", "json", "--mode", "reply", "--engine",
                                engine], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=netdiag_env(**extra), preexec_fn=lower_limit)
    started = Started(process)
    readers = [threading.Thread(target=lambda s=s, into=into: into.extend(s), daemon=True)
               for s, into in ((process.stdout, started.stdout), (process.stderr, started.stderr))]
    for reader in readers:
        reader.start()
    try:
        wait_until(lambda: started.port is not None or process.poll() is not None, timeout=15,
                   what="netdiag listen to start or exit")
        yield started
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for reader in readers:
            reader.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def serves_what_it_says(started: Started) -> int:
    """Connect as many clients as the server says it serves; each is answered; the next is told it is
    busy; the first is still served. Returns that number."""
    warning = "".join(started.stderr)
    said = re.search(r"serving at most (\d+) client", warning)
    assert said, f"the server did not say how many clients it serves: {warning!r}"
    capacity = int(said.group(1))
    assert capacity >= 1
    assert started.port is not None
    host_port = ("127.0.0.1", started.port)
    with ExitStack() as stack:
        clients = []
        for _ in range(capacity):
            sock = stack.enter_context(socket.create_connection(host_port, timeout=5))
            sock.sendall(b"hello\n")
            assert recv_line(sock) == b"accepted\n"
            clients.append(sock)
        with socket.create_connection(host_port, timeout=5) as extra:
            assert recv_line(extra).startswith(b"server busy"), "the client over the limit was not told"
        clients[0].sendall(b"still here\n")
        assert recv_line(clients[0]) == b"accepted\n"
    return capacity


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("run", list(RUNS))
def test_a_low_open_files_limit_is_said_and_served(run: str, limit: int) -> None:
    with listen_with_limit(run, limit) as started:
        if started.port is None:  # it did not start: it must say why, in a sentence
            code = started.process.wait(timeout=5)
            stderr = "".join(started.stderr)
            assert code == 1, f"exit {code} (134: aborted):\n{stderr}"
            assert "Traceback" not in stderr, stderr
            assert stderr.startswith("error: Cannot serve: this process may open only"), stderr
            assert f"only {limit} files" in stderr and "ulimit" in stderr, stderr
            return
        capacity = serves_what_it_says(started)
        if limit == 64:
            assert capacity >= 64 - ROOM_AT_64, f"only {capacity} clients with 64 descriptors"
        print(f"\n{run}: ulimit -n {limit} serves {capacity} client(s)")
    code = started.process.returncode
    stderr = "".join(started.stderr)
    assert code == 0 and "Traceback" not in stderr, f"exit {code}:\n{stderr}"


@pytest.mark.parametrize("run", list(RUNS))
def test_the_limit_the_refusal_names_is_enough(run: str) -> None:
    """The sentence names the lowest limit that serves; at that limit the server serves one client."""
    with listen_with_limit(run, 7) as refused:
        assert refused.port is None, "it started with 7 descriptors: pick a lower limit for this test"
        refused.process.wait(timeout=5)
    needed = re.search(r"needs at least (\d+)", "".join(refused.stderr))
    assert needed, refused.stderr
    minimum = int(needed.group(1))
    with listen_with_limit(run, minimum) as started:
        assert started.port is not None, f"did not start with the {minimum} it asked for: {started.stderr}"
        assert serves_what_it_says(started) == 1
    with listen_with_limit(run, minimum - 1) as below:
        assert below.port is None, f"started with {minimum - 1}: the sentence asked for too many"
