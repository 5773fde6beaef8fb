"""netdiag connect against netcat-openbsd (`nc -l`), the tool students compare it with."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from helpers.cli import popen_netdiag, run_netdiag
from helpers.waiting import wait_until

from netdiag.core.exit_status import ExitStatus

pytestmark = pytest.mark.skipif(shutil.which("nc") is None or shutil.which("ss") is None,
                                reason="needs netcat-openbsd and ss (./dev test installs them)")


# --- netcat interop --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int, udp: bool = False) -> bool:
    """Whether something is bound on ``port`` (asked of ss, since probing nc would use up its one peer)."""
    result = subprocess.run(["ss", "-Hluan" if udp else "-Hltn", f"sport = :{port}"], capture_output=True,
                            text=True, timeout=10)
    return f":{port}" in result.stdout


@contextmanager
def netcat_listener(port: int, udp: bool = False) -> Iterator[subprocess.Popen[str]]:
    argv = ["nc", *(["-u"] if udp else []), "-l", "127.0.0.1", str(port)]
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, bufsize=1)
    try:
        wait_until(lambda: _listening(port, udp) or process.poll() is not None, what="nc -l to listen")
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield process
    finally:
        process.kill()
        process.wait(timeout=5)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_interop_with_nc_listen_both_ways() -> None:
    port = _free_port()
    with netcat_listener(port) as nc:
        client = popen_netdiag("connect", f"127.0.0.1:{port}", "--newline", "lf", "-m", "hello nc",
                               "--timeout", "10")
        assert nc.stdout is not None and nc.stdin is not None
        assert wait_until(nc.stdout.readline, what="nc to print our line") == "hello nc\n"
        nc.stdin.write("hello netdiag\n")
        nc.stdin.flush()
        nc.stdin.close()  # nc sends FIN after its stdin ends, so our half-closed session completes
        out, err = client.communicate(timeout=15)
    assert client.returncode == ExitStatus.OK, err
    assert out.splitlines() == ["hello netdiag"]
    assert "Traceback" not in err


def test_interactive_session_with_nc_prints_what_nc_says_while_stdin_stays_open() -> None:
    port = _free_port()
    with netcat_listener(port) as nc:
        client = popen_netdiag("connect", f"127.0.0.1:{port}", "--timeout", "10")
        assert nc.stdout is not None and nc.stdin is not None
        assert client.stdin is not None and client.stdout is not None
        wait_until(lambda: _established(port), what="netdiag connect to reach nc")
        nc.stdin.write("hello from nc\n")
        nc.stdin.flush()
        # our stdin is still open: the reply is printed while netdiag is waiting for input
        assert wait_until(client.stdout.readline, what="netdiag to print nc's line") == "hello from nc\n"
        client.stdin.write("hello back\n")
        client.stdin.flush()
        assert wait_until(nc.stdout.readline, what="nc to print our line") == "hello back\n"
        client.stdin.close()  # our FIN; nc (without -N) ends once its own stdin ends too
        nc.stdin.close()
        code = client.wait(timeout=15)
        out, err = client.stdout.read(), client.stderr.read() if client.stderr else ""
        client.stdout.close()
        if client.stderr is not None:
            client.stderr.close()
    assert code == ExitStatus.OK, err
    assert out == "" and "Connection closed by the server." in err and "Traceback" not in err


def _established(port: int) -> bool:
    result = subprocess.run(["ss", "-Htn", "state", "established", f"dport = :{port}"], capture_output=True,
                            text=True, timeout=10)
    return f":{port}" in result.stdout


def test_udp_datagram_to_nc_listen_and_its_answer() -> None:
    port = _free_port()
    with netcat_listener(port, udp=True) as nc:
        client = popen_netdiag("connect", f"127.0.0.1:{port}", "--udp", "-m", "ping", "--timeout", "10")
        assert nc.stdout is not None and nc.stdin is not None
        assert wait_until(lambda: nc.stdout.read(4), what="nc to print the datagram") == "ping"
        nc.stdin.write("pong\n")  # nc -u answers the peer of the first datagram
        nc.stdin.flush()
        out, err = client.communicate(timeout=15)
    assert client.returncode == ExitStatus.OK, err
    assert out.splitlines() == ["pong"]


def test_refused_by_a_port_nc_no_longer_listens_on() -> None:
    port = _free_port()
    with netcat_listener(port):
        pass  # nc killed: the port is closed again
    result = run_netdiag("connect", f"127.0.0.1:{port}", "-m", "x")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "Connection refused" in result.stderr and "Traceback" not in result.stderr
