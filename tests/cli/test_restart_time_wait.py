"""Restarting a server right after stopping it: what Linux really does with TIME_WAIT and SO_REUSEADDR, and
what `netdiag explain` says about the port meanwhile. Real sockets on loopback.

Measured on Linux (6.x) while writing the advice: a new listener binds over the port's TIME_WAIT sockets
only when it sets SO_REUSEADDR *and* the old server's sockets had it too (the TIME_WAIT socket keeps the
option of the socket it came from). The catalog's advice says so; the first test keeps it true.
"""

from __future__ import annotations

import json
import socket
import sys

import pytest
from helpers.cli import invoke_netdiag
from lab.runner import running_lab_server

from netdiag.core.exit_status import ExitStatus

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux TIME_WAIT rules")


def stopped_server_port(*, reuse: bool) -> int:
    """A port whose server accepted one connection, closed it first (so TIME_WAIT stays on the server's
    side) and stopped: nothing listens, a TIME_WAIT socket remains."""
    server = socket.socket()
    if reuse:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server closes first: its side goes through FIN_WAIT to TIME_WAIT
    assert client.recv(1) == b""
    client.close()
    server.close()
    return port


def rebinds(port: int, *, reuse: bool) -> bool:
    with socket.socket() as again:
        if reuse:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            again.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize(("old", "new", "binds"), [
    (False, False, False), (False, True, False), (True, False, False), (True, True, True),
])
def test_so_reuseaddr_helps_only_when_both_runs_set_it(old: bool, new: bool, binds: bool) -> None:
    assert rebinds(stopped_server_port(reuse=old), reuse=new) is binds


def test_explain_names_the_time_wait_sockets_not_a_near_port() -> None:
    """Before: 'nothing listens' (or a nearby port's server) on a port whose server just stopped."""
    port = stopped_server_port(reuse=False)
    with socket.socket() as near:
        try:
            near.bind(("127.0.0.1", port + 1))  # a server on the next port: near-port must not win
            near.listen()
        except OSError:
            pass  # that port is taken: the verdict is still checked without it
        result = invoke_netdiag("explain", f"127.0.0.1:{port}", "--format", "json")
    report = json.loads(result.stdout)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert report["cause"] == "time-wait", report
    assert "TIME_WAIT" in report["verdict"] and "stopped" in report["verdict"]
    fixes = " ".join(report["fixes"])
    assert "60 s on Linux" in fixes and "SO_REUSEADDR" in fixes


def test_the_labs_server_cannot_restart_at_once_and_explain_says_why() -> None:
    """The lab's 1.10 server sets no SO_REUSEADDR: after a session it closed, the same port is refused."""
    with running_lab_server("detailed_server") as server:
        port = server.port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"close")
            received = b""
            while chunk := client.recv(1024):  # until the server's FIN: it closes first (TIME_WAIT is its)
                received += chunk
        assert received == b"closed"
        server.process.wait(timeout=10)  # it exits after its one client
    assert not rebinds(port, reuse=True)  # even with SO_REUSEADDR now: the old run did not set it
    result = invoke_netdiag("explain", f"127.0.0.1:{port}", "--format", "json")
    assert json.loads(result.stdout)["cause"] == "time-wait"
