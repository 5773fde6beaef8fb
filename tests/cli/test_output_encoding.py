"""A stdout that is not UTF-8 (``PYTHONIOENCODING=ascii``, a latin-1 redirect, a Windows code page) must
neither silence the server's log nor give a traceback, and JSON must stay valid UTF-8 JSON.

One rule for every command (``netdiag.render.output.prepare_streams``): on such a stdout netdiag writes
ASCII, every other character as ``\\uXXXX``. Every test reads the child's stdout as bytes and decodes it
strictly as UTF-8: a raw latin-1 byte fails the test.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
from typing import Any

import pytest
from helpers.cli import NETDIAG, netdiag_env
from helpers.servers import ENGINES, recv_exactly, running_server
from helpers.waiting import wait_until

STRANGER = "café €中 😀"
ESCAPED = "caf\\u00e9 \\u20ac\\u4e2d \\ud83d\\ude00"
"""``STRANGER`` as a non-UTF-8 stdout shows it: JSON escapes, which also read back as ``STRANGER``."""
ENCODINGS = ["ascii", "latin-1"]


def _env(encoding: str) -> dict[str, str]:
    return netdiag_env(PYTHONIOENCODING=encoding)


def _run(*args: str, encoding: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """``netdiag ARGS`` with a stdout in ``encoding``: exit code, stdout decoded strictly as UTF-8, stderr."""
    result = subprocess.run([*NETDIAG, *args], input=stdin, capture_output=True, timeout=60,
                            env=_env(encoding))
    stderr = result.stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr
    return result.returncode, result.stdout.decode("utf-8"), stderr


# --- listen: the log goes on, in both formats, on both engines --------------------------------------------


class RawServer:
    """``netdiag listen`` with its stdout read as bytes (``helpers.servers`` reads text)."""

    def __init__(self, encoding: str, log: str, engine: str) -> None:
        self.process = subprocess.Popen([*NETDIAG, "listen", "127.0.0.1:0", "--log", log, "--engine", engine],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(encoding))
        self.output = bytearray()
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def read() -> None:
            while chunk := stdout.read1():
                self.output += chunk

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        listening = re.compile(rb'listening on TCP 127\.0\.0\.1:(\d+)|"port": (\d+)')
        found = wait_until(lambda: listening.search(self.output), timeout=15, what="the listening line")
        self.port = int(found.group(1) or found.group(2))

    def text(self) -> str:
        return bytes(self.output).decode("utf-8")  # strict: the log must be valid UTF-8 (here: ASCII)

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=10)
        self.reader.join(timeout=5)
        assert self.process.stderr is not None
        stderr = self.process.stderr.read().decode("utf-8", errors="replace")
        self.process.stderr.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code, stderr


def _echo(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(data)
        assert recv_exactly(client, len(data)) == data


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("engine", ENGINES)  # not the fixture: keeps the test ids as they were
@pytest.mark.parametrize("log", ["human", "json"])
def test_listen_log_survives_a_client_that_the_encoding_cannot_carry(encoding: str, engine: str,
                                                                     log: str) -> None:
    server = RawServer(encoding, log, engine)
    try:
        _echo(server.port, f"{STRANGER}\n".encode())
        _echo(server.port, b"after\n")  # the log must go on after that client
        wait_until(lambda: "after" in server.text(), timeout=10, what="the next client's line in the log")
    finally:
        code, stderr = server.stop()
    assert code == 0 and "Traceback" not in stderr, stderr
    text = server.text()
    if log == "json":
        events: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
        assert any(e["event"] == "recv" and e["text"] == STRANGER + "\\n" for e in events), events
        assert events[-1]["event"] == "shutdown"
    else:
        assert f"received {len(STRANGER.encode()) + 1} bytes: {ESCAPED}\\n" in text, text
        assert "shut down" in text.splitlines()[-1]


# --- connect and explain --error: no traceback, valid JSON ---------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_connect_prints_a_reply_the_encoding_cannot_carry(encoding: str) -> None:
    with running_server("--mode", "echo") as server:
        code, stdout, stderr = _run("connect", f"127.0.0.1:{server.port}", "-m", STRANGER,
                                    encoding=encoding)
        json_code, json_out, _ = _run("connect", f"127.0.0.1:{server.port}", "-m", STRANGER, "--format",
                                      "json", encoding=encoding)
    assert code == 0, stderr
    assert stdout == ESCAPED + "\n"
    assert json_code == 0
    replies = [r for r in map(json.loads, json_out.splitlines()) if r["event"] == "reply"]
    assert [r["text"] for r in replies] == [STRANGER]


PASTES = {
    # a UTF-8 paste into a stdin declared ASCII: the bytes it cannot decode are shown as \xNN
    "ascii": (f"ConnectionRefusedError: [Errno 111] Connection refused ({STRANGER})".encode(),
              "Connection refused (caf\\xc3\\xa9 \\xe2\\x82\\xac\\xe4\\xb8\\xad \\xf0\\x9f\\x98\\x80)"),
    # a latin-1 terminal's paste: read as latin-1, written back as JSON escapes (before: a raw 0xe9 byte)
    "latin-1": ("ConnectionRefusedError: [Errno 111] Connection refused (café)".encode("latin-1"),
                "Connection refused (café)"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_explain_error_from_stdin_in_text(encoding: str) -> None:
    code, stdout, stderr = _run("explain", "--error", "-", encoding=encoding, stdin=PASTES[encoding][0])
    assert code == 0, stderr
    assert "Connection refused" in stdout


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_explain_error_from_stdin_in_json_is_valid_utf8_json(encoding: str) -> None:
    pasted, read = PASTES[encoding]
    code, stdout, stderr = _run("explain", "--error", "-", "--format", "json", encoding=encoding,
                                stdin=pasted)
    assert code == 0, stderr
    record = json.loads(stdout)
    assert record["cause"] == "nothing-listening", record
    assert record["input"].endswith(read), record["input"]
