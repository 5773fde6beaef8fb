"""The lab replicas talk to each other as the lab's programs do (so tests built on them mean something)."""

from __future__ import annotations

from helpers.servers import running_server
from lab.runner import run_lab_client, running_lab_server


def test_lab_client_gets_accepted_then_closed_from_reply_server() -> None:
    with running_lab_server("reply_server") as server:
        result = run_lab_client("tcp_client", server.host, str(server.port), "hello", "world", "close")
        assert result.stdout.splitlines() == ["accepted", "accepted", "closed"]
        server.wait_for_line("Received: ")
        assert any(line.endswith(": hello") for line in server.lines)


def test_lab_client_reads_messages_from_stdin_without_newlines() -> None:
    with running_lab_server("echo_server") as server:
        result = run_lab_client("tcp_client", server.host, str(server.port), input="one\ntwo\n")
        assert result.stdout.splitlines() == ["one", "two"]


def test_greeting_server_greets_prints_and_serves_the_next_client() -> None:
    with running_lab_server("greeting_server") as server:
        for name in ("first", "second"):
            result = run_lab_client("greeting_client", server.host, str(server.port), name)
            assert result.stdout.strip() == "You are connected"
            server.wait_for_line(f"Received: {name}")


def test_udp_echo_server_echoes_each_datagram() -> None:
    with running_lab_server("udp_echo_server") as server:
        result = run_lab_client("udp_client", server.host, str(server.port), "ping", "pong")
        assert result.stdout.splitlines() == ["ping", "pong"]


def test_lab_udp_client_gets_accepted_then_closed_from_netdiag_udp_reply(engine: str) -> None:
    """The lab's task 3: the reply server over UDP, the lab's UDP client against ``listen --udp``."""
    with running_server("--engine", engine, "--udp", "--mode", "reply") as server:
        result = run_lab_client("udp_client", server.host, str(server.port), "hello", "world", "close")
    assert result.stdout.splitlines() == ["accepted", "accepted", "closed"]
