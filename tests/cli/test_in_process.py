"""The in-process runner (``invoke_netdiag``) gives what a real ``python -m netdiag`` gives: the same exit
code and the same stdout and stderr, byte for byte, for the same environment and input (colour, widths,
stdin, diagnoses on stderr); and it leaves this process as it found it."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator

import pytest
from helpers.cli import Result, invoke_netdiag, netdiag_env, run_netdiag


@pytest.fixture
def refusing() -> Iterator[str]:
    """HOST:PORT of a port bound but not listening: connect() is refused, nobody else can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


TRACEBACK = ('Traceback (most recent call last):\r\n  File "café.py", line 4, in <module>\r\n'
             "    s.connect(('127.0.0.1', 8000))\r\n"
             "ConnectionRefusedError: [Errno 111] Connection refused\r\n")

RUNS = {
    "version": (["--version"], {}, None),
    "root help": (["--help"], {}, None),
    "help at 60 columns": (["probe", "--help"], {"COLUMNS": "60"}, None),
    "help without COLUMNS": (["explain", "--help"], {"COLUMNS": ""}, None),
    "no arguments": ([], {}, None),
    "unknown option": (["--no-such-option"], {}, None),
    "two words for one target": (["connect", "127.0.0.1", "8000"], {}, None),
    "usage error": (["probe", "127.0.0.1:9-1"], {}, None),
    "forced colour": (["explain", "--error", "[Errno 98] Address already in use"],
                      {"NO_COLOR": "", "FORCE_COLOR": "1"}, None),
    "no colour flag": (["explain", "--error", "[Errno 98] Address already in use", "--no-color"],
                       {"NO_COLOR": "", "FORCE_COLOR": "1"}, None),
    "stdin, CRLF and non-ASCII": (["explain", "--error", "-", "--format", "json"], {}, TRACEBACK),
    "unknown text, exit 1": (["explain", "--error", "the printer is on fire \u202e\x1b[31m"], {}, None),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_same_bytes_as_a_real_process(name: str) -> None:
    args, extra_env, stdin = RUNS[name]
    env = netdiag_env(**extra_env)
    if extra_env.get("COLUMNS") == "":
        del env["COLUMNS"]
    child = Result.of(run_netdiag(*args, env=env, input=stdin))
    assert invoke_netdiag(*args, env=env, input=stdin) == child


@pytest.mark.parametrize("command", ["connect", "explain", "probe", "sockets"])
def test_same_bytes_when_the_network_says_no(command: str, refusing: str) -> None:
    args = {"connect": ["connect", refusing, "-m", "x"], "explain": ["explain", refusing],
            "probe": ["probe", refusing, "--connect", "--explain"],
            "sockets": ["sockets", "-l", "--port", refusing.rsplit(":", 1)[1]]}[command]
    child = Result.of(run_netdiag(*args))
    mine = invoke_netdiag(*args)
    if command in ("explain", "probe"):  # measured round-trip times differ from run to run
        assert (mine.returncode, _without_times(mine.stdout), mine.stderr) == (
            child.returncode, _without_times(child.stdout), child.stderr)
    else:
        assert mine == child
    assert mine.returncode == 1 or command == "sockets"


def _without_times(text: str) -> str:
    """Measured times as ``T``, and the table's padding (as wide as the widest time) as one space."""
    import re

    return re.sub(r" +", " ", re.sub(r"(?<![\d.])\d+\.\d+(?![\d.])", "T", text))


def test_the_process_is_left_as_it_was() -> None:
    environ, streams = dict(os.environ), (sys.stdin, sys.stdout, sys.stderr, sys.__stdout__)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    threads = set(threading.enumerate())
    result = invoke_netdiag("explain", "--error", "111", env=netdiag_env(NETDIAG_TEST_MARK="1"))
    assert result.returncode == 0, result.stderr
    assert dict(os.environ) == environ and "NETDIAG_TEST_MARK" not in os.environ
    assert (sys.stdin, sys.stdout, sys.stderr, sys.__stdout__) == streams
    assert {signum: signal.getsignal(signum) for signum in handlers} == handlers
    assert set(threading.enumerate()) <= threads


def test_what_acts_at_start_up_needs_a_process() -> None:
    with pytest.raises(ValueError, match="PYTHONIOENCODING"):
        invoke_netdiag("--version", env=netdiag_env(PYTHONIOENCODING="ascii"))
    with pytest.raises(ValueError, match="NETDIAG_PROFILE"):
        invoke_netdiag("--version", env=netdiag_env(NETDIAG_PROFILE="windows"))
