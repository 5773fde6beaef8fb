"""`netdiag connect` copes with the lab's own bugs: the 1.10 server that loops on ``recv()`` returning
``b''``, and servers that compare the whole message with ``close`` (no newline), while line-based servers
still get their lines.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from helpers.cli import Result, invoke_netdiag
from helpers.servers import running_server
from lab.runner import running_lab_server

from netdiag.core.exit_status import ExitStatus

LOOP_SENTENCE = ("the server keeps sending after your end of input: it does not handle `recv()` returning "
                 "`b''`")


def connect(*args: str, input: str | None = None) -> Result:
    """Run connect (in this process); a session that never ends fails the test at pytest's timeout."""
    result = invoke_netdiag("connect", *args, input=input)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("server_name", ["detailed_server", "reply_server"])
def test_a_server_looping_on_empty_recv_is_stopped_and_named(server_name: str) -> None:
    """Before: --timeout is idle, and 'accepted' kept coming, so connect ran until killed."""
    with running_lab_server(server_name) as server:
        result = connect(server.address, "-m", "hello", "--timeout", "5")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["accepted", "accepted"]  # its answer, then its answer to b''
        assert LOOP_SENTENCE in result.stderr
        assert "if not data: break" in result.stderr
        server.wait_for_line("Received: " if server_name == "detailed_server" else "Error when handling")


def test_the_loop_is_a_json_event() -> None:
    with running_lab_server("detailed_server") as server:
        result = connect(server.address, "-m", "hello", "--format", "json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    loop = next(r for r in records if r["event"] == "keeps-sending")
    assert loop["text"] == "accepted" and loop["bytes"] >= 24
    assert records[-1]["event"] == "done" and records[-1]["ok"] is True


def test_typing_close_closes_the_labs_reply_server() -> None:
    """The lab compares the whole message with 'close': before, 'close\\n' was just another message."""
    with running_lab_server("reply_server") as server:
        result = connect(server.address, "-v", input="hello\nclose\n")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["accepted", "closed"]
        assert "Connection closed by the server." in result.stderr
        assert LOOP_SENTENCE not in result.stderr
        assert "lines are sent without it" in result.stderr
        server.wait_for_line(lambda line: line.endswith(": hello"))  # the bare message, as the lab sends it


def test_typing_close_ends_the_labs_single_client_server() -> None:
    with running_lab_server("detailed_server") as server:
        result = connect(server.address, input="hi\nClose\n")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["accepted", "closed"]
        server.wait_for_line("Connection to client closed")


def test_typing_close_closes_netdiags_own_reply_server(engine: str) -> None:
    with running_server("--mode", "reply", "--engine", engine) as server:
        result = connect(f"127.0.0.1:{server.port}", input="hello\nclose\n")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["accepted", "closed"]
        server.wait_for_event("recv", text="hello")


@contextmanager
def line_server() -> Iterator[tuple[int, list[bytes]]]:
    """A line-based server (readline, like most text protocols): answers ``got: LINE`` per whole line."""
    lines: list[bytes] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while line := self.rfile.readline():
                lines.append(line)
                self.wfile.write(b"got: " + line)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], lines
    finally:
        server.shutdown()
        server.server_close()


def test_a_line_based_server_still_gets_whole_lines() -> None:
    with line_server() as (port, lines):
        result = connect(f"127.0.0.1:{port}", "-v", input="one\ntwo\nclose\n")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines() == ["got: one", "got: two", "got: close"]
    assert lines == [b"one\n", b"two\n", b"close\n"]
    assert "lines are sent with their newline" in result.stderr


def test_newline_option_still_forces_the_ending() -> None:
    with running_lab_server("reply_server") as server:
        result = connect(server.address, "--newline", "lf", input="close\n")
        assert result.stdout.splitlines()[0] == "accepted"  # 'close\n' is not 'close' to the lab
        server.wait_for_line(lambda line: line.endswith(": close"))
