"""Wire compatibility: the classic lab's own clients (replicas in tests/lab/) against netdiag listen."""

from __future__ import annotations

import subprocess

from helpers.servers import running_server
from lab.runner import lab_program


def run_lab(name: str, *args: str, stdin: str | None = None) -> list[str]:
    result = subprocess.run([*lab_program(name), *args], input=stdin, capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_lab_tcp_client_against_reply(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "reply") as server:
        lines = run_lab("tcp_client", server.host, str(server.port), "Hello", "How are you?", "close")
    assert lines == ["accepted", "accepted", "closed"]


def test_lab_tcp_client_against_echo(engine: str) -> None:
    with running_server("--engine", engine) as server:
        lines = run_lab("tcp_client", server.host, str(server.port), stdin="first\nsecond line\n")
    assert lines == ["first", "second line"]


def test_lab_greeting_client_against_greet(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "greet") as server:
        lines = run_lab("greeting_client", server.host, str(server.port), "Hi, it's me")
        assert lines == ["You are connected"]
        assert server.wait_for_event("recv")["text"] == "Hi, it's me"
        server.wait_for_event("close", reason="greeted")


def test_lab_udp_client_against_udp_echo(engine: str) -> None:
    with running_server("--engine", engine, "--udp") as server:
        assert run_lab("udp_client", server.host, str(server.port), "one", "two") == ["one", "two"]
