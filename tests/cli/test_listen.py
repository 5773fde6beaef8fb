"""`netdiag listen` as users run it: a real process, real loopback sockets, its JSON event log."""

from __future__ import annotations

import signal
import socket

import pytest
from helpers.cli import run_netdiag
from helpers.servers import running_server

from netdiag.core.exit_status import ExitStatus

ENGINES = ["asyncio", "threads"]


@pytest.mark.parametrize("engine", ENGINES)
def test_listening_event_follows_the_contract(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "echo") as server:
        listening = server.events[0]
        assert listening["event"] == "listening"
        assert set(listening) == {"event", "proto", "host", "port", "mode", "engine", "time"}
        assert (listening["proto"], listening["host"], listening["mode"], listening["engine"]) == (
            "tcp", "127.0.0.1", "echo", engine)
        assert 0 < listening["port"] < 65536
        assert isinstance(listening["time"], float)
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"ping")
            assert client.recv(100) == b"ping"
            peer = f"127.0.0.1:{client.getsockname()[1]}"
        server.wait_for_event("close", peer=peer, by="client", reason="eof")
    kinds = [e["event"] for e in server.events]
    assert kinds == ["listening", "connect", "recv", "send", "close", "shutdown"]
    assert server.events[2]["text"] == "ping"
    assert server.events[2]["bytes"] == server.events[3]["bytes"] == 4


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("engine", ENGINES)
def test_signal_stops_the_server_cleanly_with_clients_connected(engine: str, signum: int) -> None:
    with (running_server("--engine", engine, check_exit=False) as server,
          socket.create_connection(server.address, timeout=5) as client):
        server.wait_for_event("connect")
        code = server.stop(signum, timeout=2.0)
        assert client.recv(100) == b""  # the server closed our connection
    assert code == ExitStatus.OK
    assert server.of("close", by="server", reason="shutdown")
    assert server.events[-1]["event"] == "shutdown"
    assert "Traceback" not in "".join(server.stderr_lines)


def test_help_ends_with_examples() -> None:
    result = run_netdiag("listen", "--help")
    assert result.returncode == ExitStatus.OK
    assert "Examples:" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("netdiag listen")
