"""`netdiag sockets` as users run it: real loopback sockets, parsed output (a process of its own where it
matters: another user, a watch stopped with Ctrl-C; the rest runs in this one, `invoke_netdiag`)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers.cli import invoke_netdiag, netdiag_env, popen_netdiag
from helpers.socket_set import SocketSet, controlled_sockets
from helpers.unprivileged import nobody_runtime
from helpers.waiting import wait_until

from netdiag.core.exit_status import ExitStatus
from netdiag.core.sockets import SOCKET_FIELDS


@pytest.fixture
def opened() -> Iterator[SocketSet]:
    """A fresh set per test: a module-wide one would lose its TIME_WAIT after 60 s on a slow machine."""
    with controlled_sockets() as sockets:
        yield sockets


def _json(*args: str) -> list[dict[str, object]]:
    result = invoke_netdiag("sockets", "--format", "json", *args)
    assert result.returncode == ExitStatus.OK, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _ours(opened: SocketSet, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [r for r in rows if opened.ours(r["proto"], r["local_address"], r["local_port"],  # type: ignore[arg-type]
                                           r["remote_address"], r["remote_port"])]  # type: ignore[arg-type]


def _listener_port(opened: SocketSet, address: str) -> int:
    return opened.port_of("tcp", address)


def test_json_rows_have_exactly_the_stable_fields(opened: SocketSet) -> None:
    result = invoke_netdiag("sockets", "--format", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    every = json.loads(result.stdout)
    # one object per line between the brackets (docs/sockets.md promises grep/head/wc -l work)
    assert result.stdout.rstrip("\n").split("\n") == ["[", *(json.dumps(r, ensure_ascii=False) + ","
                                                 for r in every[:-1]), json.dumps(every[-1]), "]"]
    rows = _ours(opened, every)
    assert len(rows) == 10
    for row in rows:
        assert list(row) == list(SOCKET_FIELDS)
    listeners = [r for r in rows if r["state"] == "LISTEN"]
    assert {(r["proto"], r["family"], r["local_address"]) for r in listeners} == {
        ("tcp", "ipv4", "127.0.0.1"), ("tcp", "ipv6", "::1")}
    assert all(r["pid"] == os.getpid() and r["remote_address"] is None for r in listeners)


def test_csv_has_a_header_and_one_line_per_socket(opened: SocketSet) -> None:
    port = _listener_port(opened, "127.0.0.1")
    result = invoke_netdiag("sockets", "--format", "csv", "-t", "--port", str(port))
    assert result.returncode == ExitStatus.OK, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(SOCKET_FIELDS)
    # the listener, the accepted side, the client side, the TIME_WAIT: all touch this port
    assert sorted(r["state"] for r in rows) == ["ESTABLISHED", "ESTABLISHED", "LISTEN", "TIME_WAIT"]
    listener = next(r for r in rows if r["state"] == "LISTEN")
    assert (listener["remote_address"], listener["pid"]) == ("-", str(os.getpid()))


def test_table_shows_endpoints_like_ss(opened: SocketSet) -> None:
    port = _listener_port(opened, "::1")
    result = invoke_netdiag("sockets", "-t", "-l", "--port", str(port))
    assert result.returncode == ExitStatus.OK, result.stderr
    header, line = result.stdout.splitlines()
    assert header.split()[:2] == ["Proto", "State"]
    assert line.split()[:4] == ["tcp", "LISTEN", f"[::1]:{port}", "*"]


@pytest.mark.parametrize(("args", "states"), [
    (["-t", "-l"], ["LISTEN", "LISTEN"]),
    (["-u"], ["ESTABLISHED", "UNCONN", "UNCONN"]),
    (["-u", "-l", "-6"], ["UNCONN"]),
    (["-4", "--state", "time-wait"], ["TIME_WAIT"]),
    (["-6", "-t", "--state", "estab"], ["ESTABLISHED", "ESTABLISHED"]),
    (["--state", "LISTEN,TIME_WAIT", "-4"], ["LISTEN", "TIME_WAIT"]),
])
def test_filters(opened: SocketSet, args: list[str], states: list[str]) -> None:
    rows = _ours(opened, _json(*args))
    assert sorted(str(r["state"]) for r in rows) == sorted(states)


def test_pid_and_process_filters(opened: SocketSet) -> None:
    import psutil

    name = psutil.Process().name()
    mine = _ours(opened, _json("--pid", str(os.getpid())))
    assert len(mine) == 9  # every socket of the set but the TIME_WAIT, which no process owns
    by_name = [r for r in _json("--process", name.upper(), "--pid", str(os.getpid()))]
    assert len(by_name) >= 9
    assert _json("--process", "no-such-process-name") == []


def test_summary_counts_the_filtered_sockets(opened: SocketSet) -> None:
    port = _listener_port(opened, "127.0.0.1")
    summary = _json("--summary", "-t", "--port", str(port))
    assert {(line["proto"], line["state"]): line["total"] for line in summary} == {
        ("tcp", "*"): 4, ("tcp", "ESTABLISHED"): 2, ("tcp", "TIME_WAIT"): 1, ("tcp", "LISTEN"): 1}
    table = invoke_netdiag("sockets", "-s", "-t", "--port", str(port))
    assert table.stdout.startswith("Total: 4 sockets")


def test_ss_habits_are_accepted(opened: SocketSet) -> None:
    port = _listener_port(opened, "127.0.0.1")
    result = invoke_netdiag("sockets", "-tulpn", "--port", str(port))
    assert result.returncode == ExitStatus.OK, result.stderr
    assert "LISTEN" in result.stdout


def test_nothing_listening_says_what_that_means() -> None:
    with socket.socket() as reserved:  # bound, never listening: a port nobody else can take meanwhile
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = invoke_netdiag("sockets", "-l", "--port", str(port))
    assert result.returncode == ExitStatus.OK
    assert result.stdout == ""
    assert f"Nothing listens on port {port}" in result.stderr and "connection refused" in result.stderr


@pytest.mark.parametrize(("args", "phrase"), [
    (["-4", "-6"], "match nothing"),
    (["--count", "2"], "--watch only"),
    (["--state", "open"], "Unknown socket state"),
    (["--watch", "--format", "csv"], "not CSV"),
    (["--port", "70000"], "65535"),
])
def test_usage_errors(args: list[str], phrase: str) -> None:
    result = invoke_netdiag("sockets", *args)
    assert result.returncode == ExitStatus.USAGE
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr


def test_wide_adds_user_and_command_line(opened: SocketSet) -> None:
    port = _listener_port(opened, "127.0.0.1")
    rows = _json("--wide", "-l", "--port", str(port))
    assert list(rows[0]) == [*SOCKET_FIELDS, "user", "cmdline"]
    assert rows[0]["user"] == "root" if os.geteuid() == 0 else rows[0]["user"]
    assert "pytest" in str(rows[0]["cmdline"]) or sys.argv[0] in str(rows[0]["cmdline"])


def test_without_root_owners_show_as_dash_with_one_note(opened: SocketSet) -> None:
    port = _listener_port(opened, "127.0.0.1")
    nobody = nobody_runtime()  # from any checkout, a private one too (skips with the reason otherwise)
    result = subprocess.run(
        nobody.argv("-m", "netdiag", "sockets", "-l", "--port", str(port)),
        capture_output=True, text=True, timeout=60, env=nobody.env(netdiag_env()), cwd="/",
    )
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines()[1].split()[-2:] == ["-", "-"]
    assert result.stderr.count("note:") == 1 and "sudo netdiag sockets" in result.stderr
    assert "Traceback" not in result.stderr


def test_unix_sockets_only_with_unix(tmp_path: Path) -> None:
    path = str(tmp_path / "lab.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        with_unix = [r for r in _json("--unix", "--pid", str(os.getpid())) if r["local_address"] == path]
        without = [r for r in _json("--pid", str(os.getpid())) if r["proto"] == "unix"]
        table = invoke_netdiag("sockets", "-x", "-l", "--pid", str(os.getpid()))
    assert [(r["proto"], r["family"], r["state"], r["local_port"]) for r in with_unix] == [
        ("unix", "unix", "LISTEN", None)]
    assert without == []
    assert any(line.split()[:3] == ["unix", "LISTEN", path] for line in table.stdout.splitlines())


@pytest.mark.parametrize("args", [["--wide", "--unix"], ["--summary"], ["--format", "csv", "--wide"],
                                  ["--watch", "--count", "2", "--interval", "0.05"]])
def test_without_root_every_mode_lists_and_notes_once(opened: SocketSet, args: list[str]) -> None:
    port = _listener_port(opened, "127.0.0.1")
    nobody = nobody_runtime()
    result = subprocess.run(
        nobody.argv("-m", "netdiag", "sockets", "--port", str(port), *args),
        capture_output=True, text=True, timeout=60, env=nobody.env(netdiag_env()), cwd="/",
    )
    assert result.returncode == ExitStatus.OK, result.stderr
    assert "Traceback" not in result.stderr and "AccessDenied" not in result.stderr
    assert result.stderr.count("note:") == 1 and "sudo netdiag sockets" in result.stderr
    if "--summary" in args:
        assert result.stdout.startswith("Total: 4 sockets")
    else:
        assert f"127.0.0.1:{port}" in result.stdout or f"127.0.0.1,{port}" in result.stdout


class _Lines:
    """Collects a child's stdout lines in a thread, so tests wait on content with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        self._thread = threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")),
                                         daemon=True)
        self._thread.start()

    def wait_for(self, predicate: object, what: str) -> str:
        return wait_until(lambda: next((line for line in list(self.lines)
                                        if predicate(line)), None),  # type: ignore[operator]
                          timeout=20, what=what)


@contextmanager
def _watching(*args: str) -> Iterator[tuple[subprocess.Popen[str], _Lines]]:
    process = popen_netdiag("sockets", "--watch", "--interval", "0.1", "--count", "600", *args)
    try:
        yield process, _Lines(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_watch_marks_appeared_changed_state_and_gone_then_ctrl_c_exits_0() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with _watching("--port", str(port)) as (process, lines):
            lines.wait_for(lambda line: f"127.0.0.1:{port}" in line and "LISTEN" in line, "first frame")
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client_port = client.getsockname()[1]
            accepted, _ = server.accept()
            lines.wait_for(lambda line: line.startswith("+") and f":{client_port} " in line
                           and "ESTABLISHED" in line, "the new connection marked +")
            client.close()  # the side that closes first ends in TIME_WAIT
            with accepted:
                assert accepted.recv(16) == b""
            lines.wait_for(lambda line: line.startswith("~") and "-> TIME_WAIT" in line
                           and f"127.0.0.1:{client_port} " in line, "ESTABLISHED -> TIME_WAIT marked ~")
            lines.wait_for(lambda line: line.startswith("-") and f"127.0.0.1:{port} " in line
                           and f":{client_port}" in line, "the server side marked gone")
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == ExitStatus.OK
    assert any("appeared" in line and "changed state" in line for line in lines.lines)


def test_watch_json_lines_and_count_bound() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = invoke_netdiag("sockets", "--watch", "--format", "json", "--count", "2",
                                "--interval", "0.05", "--port", str(port))
    assert result.returncode == ExitStatus.OK, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["refresh"], e["change"], e["state"], e["local_port"]) for e in events] == [
        (1, "present", "LISTEN", port)]


# --- names chosen by other processes are shown, never acted on --------------------------------------------

HOSTILE_NAME = "\x1b]0;pwn\x07\u202e"
"""An OSC that sets the terminal's title, then a right-to-left override: 11 bytes, within comm's 15."""
HOSTILE_ARGUMENT = "\x1b[2J\x1b[H\u2066\u200b\x9b31m"
"""Clear the screen, cursor home, a bidi isolate, a zero-width space, an 8-bit CSI."""
HOSTILE_FILE = "\x1b[31mred\u202esock"

_HOSTILE_CHILD = """
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)  # PR_SET_NAME: what ps, top and ss show
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[2])
server.listen()
print("ready", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""

UNSHOWN = ("Cc", "Cf", "Zl", "Zp")


@contextmanager
def _hostile_process(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A process named with escape sequences and bidi characters, holding a Unix socket named likewise."""
    path = str(tmp_path / HOSTILE_FILE)
    child = subprocess.Popen([sys.executable, "-c", _HOSTILE_CHILD, HOSTILE_NAME, path, HOSTILE_ARGUMENT],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        yield child.pid, path
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
        assert child.stdout is not None
        child.stdout.close()


@pytest.mark.parametrize("args", [[], ["--wide"], ["--format", "csv"], ["--format", "csv", "--wide"],
                                  ["--format", "json"], ["--format", "json", "--wide"]],
                         ids=["table", "wide", "csv", "csv-wide", "json", "json-wide"])
def test_names_from_other_processes_cannot_drive_the_terminal(tmp_path: Path, args: list[str]) -> None:
    import unicodedata

    with _hostile_process(tmp_path) as (pid, path):
        result = invoke_netdiag("sockets", "--unix", "--pid", str(pid), *args)
    assert result.returncode == ExitStatus.OK, result.stderr
    raw = [char for char in result.stdout if char != "\n" and unicodedata.category(char) in UNSHOWN]
    assert raw == [], f"raw control/bidi characters in the output: {raw!r}"
    if "json" in args:  # the exact values, escaped the JSON way
        rows = json.loads(result.stdout)
        assert [(r["process"], r["local_address"]) for r in rows] == [(HOSTILE_NAME, path)]
        assert "\\u001b]0;pwn\\u0007\\u202e" in result.stdout
        if "--wide" in args:
            assert rows[0]["cmdline"].endswith(HOSTILE_ARGUMENT)
        return
    assert "\\x1b]0;pwn\\x07\\u202e" in result.stdout  # the process name, escaped
    assert "\\x1b[31mred\\u202esock" in result.stdout  # the socket's path, escaped
    if "--wide" in args:
        assert "\\x1b[2J\\x1b[H\\u2066\\u200b\\x9b31m" in result.stdout  # the command line, escaped
