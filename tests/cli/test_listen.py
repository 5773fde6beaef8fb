"""`netdiag listen` as users run it: a real process, real loopback sockets, its JSON event log (help, usage
and bind errors, which never serve, run in this process: `invoke_netdiag`)."""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import sys
import time

import pytest
from helpers.cli import NETDIAG, invoke_netdiag, popen_netdiag
from helpers.netns import Namespace, TwoHosts
from helpers.servers import running_server
from helpers.waiting import wait_until

from netdiag.core.exit_status import ExitStatus


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


def test_shutdown_takes_under_a_second_even_with_a_client_that_never_reads(engine: str) -> None:
    """The echo to a client that never reads backs up (blocked sendall / full transport buffer): the
    server must still stop within 1 s of the signal, cutting that client off, and exit 0."""
    with running_server("--engine", engine, "--mode", "echo", check_exit=False) as server:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(server.address)
        stuck.setblocking(False)
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:  # bounded: stops as soon as every buffer on the way is full
                sent += stuck.send(b"x" * 65536)
        except BlockingIOError:
            pass
        server.wait_for(lambda e: sum(x.get("bytes", 0) for x in server.of("send")) > 0,
                        what="the server to start echoing")
        signalled_at = time.time()
        code = server.stop(signal.SIGTERM, timeout=2.0)
        stuck.close()
    assert code == ExitStatus.OK
    shutdown = server.events[-1]
    assert shutdown["event"] == "shutdown" and shutdown["closed"] == 1
    assert shutdown["time"] - signalled_at < 1.0
    assert "Traceback" not in "".join(server.stderr_lines)


def test_help_ends_with_examples() -> None:
    result = invoke_netdiag("listen", "--help")
    assert result.returncode == ExitStatus.OK
    assert "Examples:" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("netdiag listen")


# -- bind failures: explained, never traced back -----------------------------------------------------

def test_address_in_use_names_the_process_holding_the_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        result = invoke_netdiag("listen", f"127.0.0.1:{port}")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "Traceback" not in result.stderr
    assert f"Cannot listen on TCP 127.0.0.1:{port}: the address is already in use." in result.stderr
    assert f"(pid {os.getpid()})" in result.stderr
    assert "How to fix it" in result.stderr


def test_address_in_use_by_a_connection_is_not_called_a_listener() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname(), timeout=5) as client:
        port = client.getsockname()[1]  # the client's own port: used, but nobody listens there
        result = invoke_netdiag("listen", f"127.0.0.1:{port}")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "ESTABLISHED" in result.stderr and "no listener" in result.stderr


def test_address_not_on_this_host() -> None:
    result = invoke_netdiag("listen", "192.0.2.1:0")  # TEST-NET-1: never an address of this machine
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "192.0.2.1 is not an address of this machine" in result.stderr
    assert "netdiag interfaces" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.root
def test_privileged_port_without_the_capability_exits_3(private_loopback: Namespace) -> None:
    result = private_loopback.run(
        "setpriv", "--bounding-set", "-net_bind_service", "--inh-caps", "-net_bind_service",
        *NETDIAG, "listen", "80", check=False)
    assert result.returncode == ExitStatus.NO_PRIVILEGES, result.stderr
    assert "ports below 1024 need root" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "phrase"), [
    (["0", "--udp", "--mode", "chat"], "--udp works with --mode echo, reply or sink"),
    (["70000"], "out of range"),
    (["127.0.0.1:http"], "not a port number"),
    (["::1:80"], "without brackets"),
    (["0", "--max-line", "0"], "--max-line"),
])
def test_usage_errors(args: list[str], phrase: str) -> None:
    result = invoke_netdiag("listen", *args)
    assert result.returncode == ExitStatus.USAGE
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr


# -- what the person at the terminal sees ------------------------------------------------------------

def test_human_log_has_timestamps_and_a_hint() -> None:
    process = popen_netdiag("listen", "0", "--mode", "reply")
    try:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        assert re.match(r"\d\d:\d\d:\d\d\.\d{3}  listening on TCP 127\.0\.0\.1:\d+  \(mode reply", first)
        port = int(re.search(r":(\d+) ", first).group(1))  # type: ignore[union-attr]
        assert "try it: netdiag connect 127.0.0.1:" in process.stderr.readline()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"hi\x1b[2J\n")
            assert client.recv(100) == b"accepted\n"
        lines = [process.stdout.readline() for _ in range(4)]
        assert "connected" in lines[0]
        assert "received 7 bytes: hi\\x1b[2J\\n" in lines[1]  # escapes shown, never interpreted
        assert "sent 9 bytes" in lines[2]
        assert "closed by client (eof)" in lines[3]
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == ExitStatus.OK
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_open_files_limit_lower_than_max_clients_is_said() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with running_server("--max-clients", str(hard + 1000)) as server:
        pass
    assert any("fewer than --max-clients" in line for line in server.stderr_lines)


def test_clients_past_the_open_files_limit_are_told_the_server_is_busy(engine: str) -> None:
    """With 200 descriptors the server serves what fits and refuses the rest politely: no EMFILE
    traceback, no hang, and the clients it serves keep being served."""
    with running_server("--engine", engine, "--mode", "reply", open_files=200) as server:
        warning = "".join(server.stderr_lines)
        capacity = int(re.search(r"serving at most (\d+) client", warning).group(1))  # type: ignore[union-attr]
        assert 0 < capacity < 200
        clients = [socket.create_connection(server.address, timeout=5) for _ in range(capacity)]
        try:
            server.wait_for(lambda e: len(server.of("connect")) == capacity, timeout=10,
                            what=f"{capacity} connections")
            extra = [socket.create_connection(server.address, timeout=5) for _ in range(20)]
            for sock in extra:
                assert b"server busy" in sock.recv(200)
                sock.close()
            wait_until(lambda: len(server.of("refused", reason="max-clients")) == 20,
                       what="20 refused events")
            for sock in (clients[0], clients[-1]):
                sock.sendall(b"still here\n")
                assert sock.recv(100) == b"accepted\n"
        finally:
            for sock in clients:
                sock.close()
    assert "Traceback" not in "".join(server.stderr_lines)


@pytest.mark.root
def test_wildcard_bind_lists_the_addresses_other_machines_use(net: TwoHosts) -> None:
    with running_server("--mode", "reply", address="0.0.0.0:0", netns=net.server.name) as server:
        wanted = f"other machines can use {net.server_addr}:{server.port}"
        stderr = wait_until(lambda: "".join(server.stderr_lines) if any(
            wanted in line for line in server.stderr_lines) else "", what=wanted)
        assert "warning: listening on every interface" in stderr
        target = (net.server_addr, server.port)
        reply = net.client.run(sys.executable, "-c", (
            f"import socket; s = socket.create_connection({target!r}); s.sendall(b'hi'); "
            "print(s.recv(100).decode())"))
        assert reply.stdout.strip() == "accepted"


@pytest.mark.root
def test_ipv6_wildcard_also_lists_ipv4_addresses_and_serves_them(net: TwoHosts) -> None:
    with running_server("--mode", "reply", "--host", "::", address="0", netns=net.server.name) as server:
        assert server.host == "::"
        wanted = f"other machines can use {net.server_addr}:{server.port}"
        wait_until(lambda: any(wanted in line for line in server.stderr_lines), what=wanted)
        warning = "warning: listening on every interface of this machine (::)"
        assert any(warning in line for line in server.stderr_lines)
        target = (net.server_addr, server.port)  # "::" serves IPv4 too (IPV6_V6ONLY off)
        reply = net.client.run(sys.executable, "-c", (
            f"import socket; s = socket.create_connection({target!r}); s.sendall(b'hi'); "
            "print(s.recv(100).decode())"))
        assert reply.stdout.strip() == "accepted"
