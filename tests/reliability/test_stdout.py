"""A stdout nobody reads must not stop the server: ``netdiag listen | less`` left unscrolled, a terminal
paused with Ctrl-S.

The server's stdout is a real pipe whose read end the test leaves alone until the server has exited.
The pipe takes 64 KiB (a few hundred events); before, the server then stopped serving every client and
SIGTERM waited for the pipe to drain. Now every client is served, SIGTERM ends the server, and the
lines that could not be written are counted in the pipe (netdiag/adapters/servers/eventlog.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from helpers.cli import NETDIAG, netdiag_env
from helpers.servers import recv_exactly
from helpers.waiting import wait_until

CLIENTS = 200
EXCHANGES = 25
MESSAGE = 1000
"""200 clients x 25 echoes of 1,000 bytes: about 6 MB of log (each echo logs its text), more than the
pipe (64 KiB) and the log's own bound (4 MiB) hold together, so lines must be dropped."""
EXIT_DEADLINE = 15.0
"""Generous: the server gives up on its reader after 1 s; this only catches a server that hangs."""


def _listening_port(pid: int) -> int | None:
    try:
        sockets = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return None
    return next((s.laddr.port for s in sockets if s.status == psutil.CONN_LISTEN), None)


def _client(port: int, number: int) -> int:
    """Connect, check ``EXCHANGES`` echoes of ``MESSAGE`` bytes, close; return how many were echoed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for exchange in range(EXCHANGES):
            data = (f"{number}.{exchange} ".encode() * MESSAGE)[:MESSAGE]
            sock.sendall(data)
            assert recv_exactly(sock, MESSAGE, chunk=65536) == data
    return EXCHANGES


def _read_all(fd: int) -> bytes:
    data = bytearray()
    while chunk := os.read(fd, 65536):
        data += chunk
    return bytes(data)


@pytest.mark.parametrize(("engine", "log"), [("asyncio", "json"), ("threads", "json"), ("asyncio", "human")])
def test_a_stdout_nobody_reads_stops_neither_service_nor_shutdown(tmp_path: Path, engine: str,
                                                                  log: str) -> None:
    read_fd, write_fd = os.pipe()
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("w") as stderr:
        server = subprocess.Popen([*NETDIAG, "listen", "127.0.0.1:0", "--engine", engine, "--log", log],
                                  stdin=subprocess.DEVNULL, stdout=write_fd, stderr=stderr, env=netdiag_env())
    os.close(write_fd)  # the server holds the only write end: EOF for us once it exits
    try:
        port = wait_until(lambda: _listening_port(server.pid), timeout=15, what="the server to listen")
        with ThreadPoolExecutor(max_workers=8) as pool:
            served = sum(pool.map(lambda number: _client(port, number), range(CLIENTS)))
        assert served == CLIENTS * EXCHANGES  # every echo came back, byte for byte
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=EXIT_DEADLINE)
        took = time.monotonic() - started
        print(f"\n{engine}/{log}: exit {code} {took:.2f} s after SIGTERM, the pipe unread")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        written = _read_all(read_fd)  # only now does anyone read the pipe
        os.close(read_fd)
    stderr_text = stderr_path.read_text()
    assert code == 0, stderr_text
    assert "Traceback" not in stderr_text, stderr_text
    lines = written.decode().splitlines()
    last = lines[-1]
    if log == "json":
        notice = json.loads(last)
        assert notice["event"] == "dropped" and notice["lines"] > 1000, notice
        dropped = notice["lines"]
        assert json.loads(lines[0])["event"] == "listening"
    else:
        assert last.endswith(" log lines dropped: stdout is not being read"), last
        dropped = int(last.split("... ")[1].split(" ")[0].replace(",", ""))
        assert "listening on TCP 127.0.0.1:" in lines[0]
    print(f"{engine}/{log}: {len(written):,} bytes in the pipe, {dropped:,} lines counted as dropped")


def test_a_terminal_paused_with_ctrl_s_stops_neither_service_nor_shutdown(tmp_path: Path,
                                                                           engine: str) -> None:
    """The same with stdout a terminal whose output is stopped (Ctrl-S, IXON): it takes no byte at all."""
    master, terminal = os.openpty()
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("w") as stderr:
        server = subprocess.Popen([*NETDIAG, "listen", "127.0.0.1:0", "--engine", engine, "--log", "json"],
                                  stdin=subprocess.DEVNULL, stdout=terminal, stderr=stderr, env=netdiag_env())
    os.close(terminal)
    try:
        os.write(master, b"\x13")  # Ctrl-S typed at the terminal: its output stops
        port = wait_until(lambda: _listening_port(server.pid), timeout=15, what="the server to listen")
        with ThreadPoolExecutor(max_workers=8) as pool:
            served = sum(pool.map(lambda number: _client(port, number), range(CLIENTS // 4)))
        assert served == CLIENTS // 4 * EXCHANGES
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=EXIT_DEADLINE)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        os.close(master)
    stderr_text = stderr_path.read_text()
    assert code == 0, stderr_text
    assert "Traceback" not in stderr_text, stderr_text


def test_a_server_started_with_stdout_closed_serves_and_exits_cleanly(tmp_path: Path) -> None:
    """``netdiag listen 8000 >&-``: no log at all, but no traceback either (before: one per event)."""
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("w") as stderr:
        server = subprocess.Popen([*NETDIAG, "listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=stderr, env=netdiag_env(),
                                  preexec_fn=lambda: os.close(1))
    try:
        port = wait_until(lambda: _listening_port(server.pid), timeout=15, what="the server to listen")
        assert _client(port, 0) == EXCHANGES
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=EXIT_DEADLINE)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    stderr_text = stderr_path.read_text()
    assert code == 0, stderr_text
    assert "Traceback" not in stderr_text, stderr_text
