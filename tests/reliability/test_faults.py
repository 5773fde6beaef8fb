"""The fault suite: hostile and broken clients against every ``netdiag listen`` mode and both engines.

Each scenario is bounded in count and time. After each one the server must still answer a fresh client
correctly, the witness (connected through the scenario) must not have been disturbed, and the server's
file descriptors and threads must come back to where they were (waited for with a deadline).
The asyncio engine runs twice: on uvloop (the default where it is installed) and on the standard
library's loop (``NETDIAG_LOOP=asyncio``, the fallback elsewhere). One server per configuration serves
its scenarios in turn, whatever their order: the shutdown test stops it, and a test after that (in another
order) gets a fresh one. A server that dies fails the test it died in, and the next test of its
configuration says so before starting a fresh one. tests/reliability/test_fault_order.py runs part of
the suite in a shuffled order.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import psutil
import pytest
from helpers.cli import netdiag_env
from helpers.servers import ServerHandle, running_server
from helpers.waiting import wait_until
from reliability.harness import (
    MODES,
    Client,
    attack,
    close_with_reset,
    connect,
    fresh_client_works,
    holds_connection_from,
    resources,
    run_parallel,
    steady_resources,
    stuck_after_ending,
    wait_back_to,
)

ENGINE_RUNS: dict[str, tuple[str, dict[str, str]]] = {
    "asyncio": ("asyncio", {}),
    "asyncio-stdlib": ("asyncio", {"NETDIAG_LOOP": "asyncio"}),
    "threads": ("threads", {}),
}
"""Each run: the engine and its environment (the asyncio engine on the default loop and the stdlib's)."""
OBSERVED = [("echo", "asyncio"), ("chat", "threads")]
"""Configurations run again with ``--observe`` (root: its capture watches every connection of the suite):
the observer must not disturb the service it watches."""
CONFIGS = [(mode, run, "") for run in ENGINE_RUNS for mode in MODES]
CONFIGS += [(mode, run, "--observe") for mode, run in OBSERVED if os.geteuid() == 0]
SEED = 20_261_123  # fixed: a failure replays with the same bytes


@dataclass
class Configuration:
    """A (mode, engine) and its server: started when a test first needs it, again after a test ended it."""

    mode: str
    engine: str
    env: dict[str, str]
    observe: str
    _server: ServerHandle | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    def server(self) -> ServerHandle:
        """The running server; a server that exited without ``stop`` is reported here (once)."""
        if self._server is not None and self._server.process.poll() is not None:
            dead = self._server
            self.close()
            raise AssertionError(f"the {self.mode}-{self.engine} server exited ({dead.process.returncode}) "
                                 f"during an earlier test: {''.join(dead.stderr_lines)[-2000:]}")
        return self._server if self._server is not None else self._start()

    def _start(self) -> ServerHandle:
        extra = (self.observe,) if self.observe else ()
        self._server = self._stack.enter_context(running_server(
            "--mode", self.mode, "--engine", self.engine, *extra, check_exit=False, env=self.env))
        try:
            if self.observe:  # the capture runs before the scenarios (in a process of its own)
                self._server.wait_for_event("observing", timeout=20)
            steady_resources(self._server, self.mode)  # warm-up: leak baselines are taken in the steady state
        except BaseException:
            self.close()
            raise
        return self._server

    def stop(self) -> int:
        """SIGTERM the server and return its exit code, its output read to the end; the next test of
        this configuration gets a fresh server."""
        server = self.server()
        try:
            return server.stop(signal.SIGTERM, timeout=5)
        finally:
            self._stack.close()  # the server is gone: its readers are joined, its streams closed
            self._server = None

    def close(self) -> None:
        """Clean up without raising: kill a server stuck after a failed scenario."""
        if self._server is not None and self._server.process.poll() is None:
            self._server.process.kill()
            self._server.process.wait(timeout=10)
        self._stack.close()
        self._server = None


@pytest.fixture(scope="module", params=CONFIGS, ids=[f"{m}-{e}{o and '-observe'}" for m, e, o in CONFIGS])
def configuration(request: pytest.FixtureRequest) -> Iterator[Configuration]:
    """One server at a time per (mode, engine), shared by the scenarios of that configuration.

    pytest finalises a module-scoped parametrised fixture only when the NEXT parameter is set up, so a
    server that failed to stop would be reported as an "ERROR at setup" of another configuration's first
    test. ``test_clean_shutdown_after_the_faults`` stops the server and checks its exit inside the right
    configuration; the teardown here only cleans up and never raises on its own.
    """
    mode, run, observe = request.param
    engine, extra_env = ENGINE_RUNS[run]
    configuration = Configuration(mode, engine, netdiag_env(**extra_env), observe)
    try:
        yield configuration
    finally:
        configuration.close()


@pytest.fixture
def served(configuration: Configuration) -> tuple[ServerHandle, str]:
    """This test's configuration: its running server and mode."""
    return configuration.server(), configuration.mode


def survives(server: ServerHandle, mode: str, scenario: Callable[[Client], None]) -> None:
    """Run ``scenario`` with a witness connected; then check witness, a fresh client, and leaks."""
    baseline = resources(server)
    witness = Client(server, mode)
    witness.greet()
    if mode != "greet":
        witness.exchange("before")
    scenario(witness)
    assert server.process.poll() is None, "the server died"
    witness.exchange("after")  # the witness's session went on undisturbed
    fresh_client_works(server, mode)
    witness.close()
    wait_back_to(server, baseline, "fds and threads back to the baseline after the scenario")


def test_random_binary_payloads(served: tuple[ServerHandle, str]) -> None:
    server, mode = served
    rng = random.Random(SEED)

    def scenario(_witness: Client) -> None:
        for _ in range(10):
            payload = rng.randbytes(32 * 1024)
            cuts = sorted(rng.sample(range(1, len(payload)), 20))
            chunks = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
            result = attack(server, chunks)
            if mode == "echo":
                assert result.received == payload  # byte-exact whatever the chunking
    survives(server, mode, scenario)


def test_invalid_utf8(served: tuple[ServerHandle, str]) -> None:
    server, mode = served
    lines = [b"\xff\xfe\xfd\n", b"caf\xc3\x28\n", b"\xed\xa0\x80 surrogate\n", b"\xc0\xaf overlong\n",
             b"\xf4\x90\x80\x80 beyond\n", b"\x80\x80\x80\n"]

    def scenario(_witness: Client) -> None:
        result = attack(server, lines)
        if mode == "echo":
            assert result.received == b"".join(lines)
        logged = server.wait_for(lambda e: e.get("event") == "recv" and e.get("peer") == result.peer,
                                 what="the recv event of the invalid UTF-8")
        assert "\\x" in logged["text"]  # shown escaped, byte by byte
    survives(server, mode, scenario)


def test_one_mebibyte_line(served: tuple[ServerHandle, str]) -> None:
    server, mode = served
    line = b"A" * (1024 * 1024) + b"\n"

    def scenario(_witness: Client) -> None:
        result = attack(server, [line[i:i + 65536] for i in range(0, len(line), 65536)])
        if mode == "echo":
            assert result.received == line
        elif mode in ("reply", "greet", "chat"):
            server.wait_for_event("close", peer=result.peer, reason="line-too-long")
            assert b"longer than" in result.received  # the client was told why
        else:
            server.wait_for_event("close", peer=result.peer, reason="eof")
    survives(server, mode, scenario)


def test_nul_flood(served: tuple[ServerHandle, str]) -> None:
    server, mode = served
    flood = [b"\x00" * 4096] * 64 + [b"\n"]

    def scenario(_witness: Client) -> None:
        result = attack(server, flood)
        if mode == "echo":
            assert result.received == b"".join(flood)
    survives(server, mode, scenario)


ESCAPES = [b"\x1b[2J\x1b[H clear screen\n", b"\x1b]0;owned title\x07\n", b"\x1b[31mred text\x1b[0m\n",
           b"\x9b31m eight-bit csi\n", b"\x1bP device control\x1b\\\n", b"bell\x07 and backspace\x08\n"]


def test_terminal_escape_sequences(served: tuple[ServerHandle, str]) -> None:
    server, mode = served

    def scenario(witness: Client) -> None:
        witness.forget_received()
        result = attack(server, ESCAPES)
        # The log is read by another thread: once the server's close of this client is in it, every recv
        # event of that client (logged before the close) is too.
        server.wait_for(lambda e: e.get("event") in ("close", "reset") and e.get("peer") == result.peer,
                        what=f"the server to log the end of {result.peer}")
        texts = [e.get("text", "") for e in server.of("recv", peer=result.peer)]
        assert texts, "the server logged nothing from the client"
        assert not any("\x1b" in t or "\x9b" in t or "\x07" in t for t in texts), texts
        if mode == "chat":  # relayed to the witness, cleaned of every escape
            relayed = witness.wait_for(lambda d: b"red text" in d, "the relayed escape line")
            assert b"\x1b" not in relayed and b"\x07" not in relayed and b"\x08" not in relayed
    survives(server, mode, scenario)


def test_connect_and_reset(served: tuple[ServerHandle, str]) -> None:
    server, mode = served

    def scenario(_witness: Client) -> None:
        peers = []
        for i in range(50):
            sock = connect(server)
            peers.append(f"127.0.0.1:{sock.getsockname()[1]}")
            if i % 2:
                sock.sendall(b"data then reset\n")
            close_with_reset(sock)

        def all_noticed() -> bool:
            gone = {e.get("peer") for e in list(server.events) if e.get("event") in ("reset", "close")}
            return all(p in gone for p in peers)

        wait_until(all_noticed, timeout=10, what="the server to notice all 50 resets")
    survives(server, mode, scenario)


def test_half_close(served: tuple[ServerHandle, str]) -> None:
    server, mode = served
    expected = {"echo": b"half closed\n", "reply": b"accepted\n", "greet": b"You are connected",
                "sink": b""}

    def scenario(_witness: Client) -> None:
        for _ in range(5):
            result = attack(server, [b"half closed\n"])
            assert result.eof, "the server never closed after the client's FIN"
            if mode == "chat":
                assert result.received.startswith(b"* welcome")
            else:
                assert result.received == expected[mode]
    survives(server, mode, scenario)


def test_slowloris(served: tuple[ServerHandle, str]) -> None:
    """Five clients trickle one byte per 0.2 s for 2 s; the witness is served meanwhile."""
    server, mode = served

    def scenario(witness: Client) -> None:
        message = b"slowloris\n"

        def trickle(_i: int) -> object:
            return attack(server, [message[j:j + 1] for j in range(len(message))], pause=0.2)

        results: list[object] = []
        runner = threading.Thread(target=lambda: results.extend(run_parallel(5, trickle, workers=5)))
        runner.start()
        if mode != "greet":
            witness.exchange("during slowloris")  # not delayed by the trickling clients
        runner.join(timeout=30)
        assert len(results) == 5
        if mode == "echo":
            assert all(r.received == message for r in results)  # type: ignore[attr-defined]
    survives(server, mode, scenario)


def test_burst_of_a_thousand_connects(served: tuple[ServerHandle, str]) -> None:
    server, mode = served

    def scenario(_witness: Client) -> None:
        before = len(server.of("connect"))

        def connect_and_close(_i: int) -> object:
            with socket.create_connection(server.address, timeout=5):
                pass
            return None

        run_parallel(1000, connect_and_close, workers=4)
        wait_until(lambda: len(server.of("connect")) >= before + 1000, timeout=15,
                   what="the server to accept all 1,000 connections")
    survives(server, mode, scenario)


def test_a_client_that_stops_reading_then_leaves(served: tuple[ServerHandle, str]) -> None:
    """It fills the server's send queue, ends its session (FIN, ``close``, ``/quit``) and keeps its
    socket open, reading nothing: the server must release that socket within a bounded time (the
    closed session's backlog can never be written), and a chat room forgets the member at once."""
    server, mode = served
    engine = server.events[0].get("engine")
    loop = psutil.Process(server.process.pid).environ().get("NETDIAG_LOOP", "default loop")
    if mode in ("greet", "sink"):
        pytest.skip(f"{mode} sends (next to) nothing: there is no send queue to fill")
    if engine == "threads" and mode != "chat":
        pytest.skip("thread engine: the client's own thread blocks writing to it and never reads its "
                    "end; the session is not over (chat writes from another thread: tested)")

    def scenario(_witness: Client) -> None:
        stuck = stuck_after_ending(server, mode)
        closed_at = server.of("close", peer=stuck.peer)[-1]["time"]
        port = stuck.sock.getsockname()[1]
        try:
            if mode == "chat":  # the room forgot the member when it quit, not when its socket went
                newcomer = Client(server, mode)
                newcomer.greet()
                newcomer.exchange("who")
                names = newcomer.text().split(b" here: ")[1].rstrip(b"\n").split(b", ")
                assert stuck.name not in names, f"{stuck.name!r} left but /who lists {names}"
                newcomer.sock.sendall(b"/nick " + stuck.name + b"\n")
                newcomer.wait_for(lambda d: b"you are now " + stuck.name in d, "the quitter's name")
                newcomer.close()
            wait_until(lambda: not holds_connection_from(server, port), timeout=15,
                       what=f"the server to release the closed session of {stuck.peer}")
            took = time.time() - closed_at
            print(f"\n{mode}-{engine} ({loop}): socket released {took:.2f} s after the close")
        finally:
            stuck.sock.close()
    survives(server, mode, scenario)


def test_clean_shutdown_after_the_faults(configuration: Configuration) -> None:
    """After the scenarios its server went through (all of them in the file's order, where this test is
    last of its configuration), SIGTERM still ends the server cleanly."""
    server = configuration.server()
    code = configuration.stop()
    stderr = "".join(server.stderr_lines)
    assert code == 0, f"netdiag listen exited {code} on SIGTERM:\n{stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-2000:]
    # asyncio's own complaints ("socket.send() raised exception.", "Exception in callback ...") are
    # no traceback, but they are a server mishandling a client that went away
    assert "exception" not in stderr.lower(), stderr[-2000:]
    server.wait_for_event("shutdown")
    if server.of("observing"):  # every connection of the suite was accepted: no failed attempt to report
        failed = [e for e in server.events
                  if e.get("event") in ("unanswered-syn", "handshake-incomplete", "reset-sent", "repeated")]
        assert not failed, failed[:5]
