"""``netdiag connect`` against servers that never stop: memory stays bounded whatever the reply, the idle
``--timeout`` does not end a session that keeps receiving, and ``--max-time`` ends any session.

Real sockets on loopback: a server thread that sends 200 MB without a newline (connect used to join it
into one reply: an 845 MB one took 2.56 GB of RSS), and one that trickles a byte every 30 ms (connect used
to wait for its end forever). The child's RSS is read with psutil while it runs.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest
from helpers.cli import NETDIAG, netdiag_env

from netdiag.adapters.client.session import cut_point
from netdiag.core.exit_status import ExitStatus

FLOOD = 200 * 1024 * 1024
RSS_LIMIT = 100 * 1024 * 1024  # half the payload; measured: 20 MiB (621 MiB before)
SERVER_LIFETIME = 60.0  # every server thread ends by itself (bounded in time), whatever the client does


@contextmanager
def serving(behaviour: str, received: list[int] | None = None) -> Iterator[int]:
    """A one-client server on 127.0.0.1 in a thread: ``flood`` (read the message, send FLOOD bytes of
    'x' without a newline, close), ``trickle`` (read the message, send 'a' every 30 ms) or ``sink`` (read
    until end of input, appending the byte count to ``received``, then close)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(SERVER_LIFETIME)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(SERVER_LIFETIME)
            end = time.monotonic() + SERVER_LIFETIME
            try:
                if behaviour == "echo":
                    while block := conn.recv(1 << 16):
                        conn.sendall(block)
                    return
                if behaviour == "sink":
                    total = 0
                    while block := conn.recv(1 << 20):
                        total += len(block)
                    if received is not None:
                        received.append(total)
                    return
                conn.recv(1024)
                if behaviour == "flood":
                    block = b"x" * 65536
                    for _ in range(FLOOD // len(block)):
                        conn.sendall(block)
                    conn.shutdown(socket.SHUT_WR)
                    conn.recv(1024)  # wait for the client's close: no RST for unread data
                    return
                while time.monotonic() < end:
                    conn.sendall(b"a")
                    time.sleep(0.03)  # the behaviour under test (a trickle), not synchronisation
            except OSError:  # the client went away: done
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(SERVER_LIFETIME)


def peak_rss(child: subprocess.Popen[bytes], *, limit: float = 120) -> int:
    """The highest RSS of ``child`` sampled every 10 ms until it exits (killed after ``limit`` s)."""
    watched = psutil.Process(child.pid)
    peak = 0
    deadline = time.monotonic() + limit
    while child.poll() is None and time.monotonic() < deadline:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(0.01)  # the sampling period of the RSS, not a synchronisation
    if child.poll() is None:
        child.kill()
    child.wait(10)
    return peak


def test_a_200_mb_input_line_streams_in_bounded_memory() -> None:
    """Interactive input without a newline (``cat big.bin | netdiag connect``) goes out in pieces."""
    received: list[int] = []
    with serving("sink", received) as port:
        child = subprocess.Popen([*NETDIAG, "connect", f"127.0.0.1:{port}", "-t", "10"],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=netdiag_env())

        def feed() -> None:
            assert child.stdin is not None
            block = b"y" * (1 << 20)
            with contextlib.suppress(BrokenPipeError):
                for _ in range(FLOOD // len(block)):
                    child.stdin.write(block)
            child.stdin.close()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        peak = peak_rss(child)
        writer.join(30)
        stderr = child.stderr.read().decode() if child.stderr else ""
    print(f"\npeak RSS of connect for a {FLOOD / 2**20:.0f} MiB input line: {peak / 2**20:.1f} MiB")
    assert child.returncode == ExitStatus.OK, stderr
    assert received == [FLOOD + 1]  # every byte, and the newline that ends the (only) line
    assert 0 < peak < RSS_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB for a {FLOOD / 2**20:.0f} MiB line"


def test_input_sent_while_a_reply_streams_does_not_cut_its_line() -> None:
    """10 MB on one line through an echo server: the input goes out in pieces while the echo comes back.
    Each piece used to end the reply it crossed (a newline in the output every few hundred KB: 353 for
    50 MB); only a real pause of 50 ms (a busy machine) may now end one."""
    data = b"y" * (10 * 1024 * 1024) + b"\n"
    with serving("echo") as port:
        result = subprocess.run([*NETDIAG, "connect", f"127.0.0.1:{port}", "-t", "10"], input=data,
                                capture_output=True, timeout=120, env=netdiag_env())
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.stdout.replace(b"\n", b"") == data[:-1]
    assert result.stdout.count(b"\n") <= 10, result.stdout.count(b"\n")


def test_a_200_mb_reply_without_newline_streams_in_bounded_memory() -> None:
    with serving("flood") as port:
        child = subprocess.Popen([*NETDIAG, "connect", f"127.0.0.1:{port}", "-m", "go", "-t", "10"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=netdiag_env())
        counted = {"bytes": 0, "newlines": 0}

        def count() -> None:
            assert child.stdout is not None
            while block := child.stdout.read(1 << 20):
                counted["bytes"] += len(block)
                counted["newlines"] += block.count(b"\n")

        reader = threading.Thread(target=count, daemon=True)
        reader.start()
        peak = peak_rss(child)
        reader.join(30)
        stderr = child.stderr.read().decode() if child.stderr else ""
    print(f"\npeak RSS of connect for a {FLOOD / 2**20:.0f} MiB reply: {peak / 2**20:.1f} MiB")
    assert child.returncode == ExitStatus.OK, stderr
    # every byte; on one line unless the flood paused 50 ms somewhere (a busy machine): a new reply then
    assert counted["bytes"] - counted["newlines"] == FLOOD and counted["newlines"] >= 1
    assert 0 < peak < RSS_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB for a {FLOOD / 2**20:.0f} MiB reply"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_max_time_ends_a_trickle_that_the_idle_timeout_never_ends(fmt: str) -> None:
    with serving("trickle") as port:
        began = time.monotonic()
        result = subprocess.run([*NETDIAG, "connect", f"127.0.0.1:{port}", "-m", "go", "--timeout", "0.5",
                                 "--max-time", "2", "--format", fmt],
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                                env=netdiag_env())
        took = time.monotonic() - began
    assert "Traceback" not in result.stderr
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    assert "Stopped after --max-time 2 s" in result.stderr
    assert took >= 2  # the 0.5 s idle timeout never fired: a byte came every 30 ms
    if fmt == "json":
        events = [json.loads(line) for line in result.stdout.splitlines()]
        kinds = [e["event"] for e in events]
        assert kinds[-2:] == ["time-limit", "done"] and events[-1]["ok"] is False
        assert events[-2]["max_time"] == 2
        replies = [e for e in events if e["event"] == "reply"]
        assert any(e.get("partial") for e in replies)  # shown as it trickled in, not at the end
        assert set("".join(e["text"] for e in replies)) == {"a"}
    else:
        assert set(result.stdout.replace("\n", "")) == {"a"}


def test_max_time_bounds_the_connect_attempt_too() -> None:
    """The limit is on the whole run: a connect that would wait --timeout (30 s) stops at --max-time (1 s).
    The server is a listener whose accept queue is full: Linux drops further SYNs, as a firewall would."""
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):  # fill the accept queue (never accepted): the next SYN is dropped
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            began = time.monotonic()
            result = subprocess.run([*NETDIAG, "connect", f"127.0.0.1:{port}", "-m", "x", "--timeout", "30",
                                     "--max-time", "1"], capture_output=True, text=True, timeout=60,
                                    stdin=subprocess.DEVNULL, env=netdiag_env())
            took = time.monotonic() - began
        finally:
            for filler in fillers:
                filler.close()
    assert "Traceback" not in result.stderr
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    assert took < 20, result.stderr


@pytest.mark.parametrize(("data", "cut"), [
    (b"abc", 3),
    (b"one\ntwo", 4),  # after the last newline
    (b"ab\r", 2),  # never between CR and LF
    (b"ab\xe2\x82", 2),  # before an unfinished euro sign
    (b"ab\xe2\x82\xac", 5),  # a whole one stays
    (b"\xf0\x9f\x98", 0),  # nothing whole yet
])
def test_cut_point_keeps_lines_and_characters_whole(data: bytes, cut: int) -> None:
    assert cut_point(data) == cut
