"""`netdiag load` as users run it: output formats, exit codes, and the refusal of other hosts."""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from collections.abc import Iterator

import pytest
from helpers.cli import invoke_netdiag, popen_netdiag, run_netdiag
from helpers.netns import TwoHosts
from helpers.servers import ENGINES, running_server
from helpers.waiting import wait_until

from netdiag.core.exit_status import ExitStatus

ECHO_SERVER = """
import socket, sys, threading
srv = socket.create_server((sys.argv[1], 0))
print(srv.getsockname()[1], flush=True)
def echo(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=echo, args=(conn,), daemon=True).start()
"""


@pytest.fixture
def echo_port() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass


def test_json_report(echo_port: int) -> None:
    result = invoke_netdiag("load", f"127.0.0.1:{echo_port}", "--clients", "2", "--duration", "0.5",
                            "--size", "200", "--format", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    report = json.loads(result.stdout)
    assert report["target"] == f"127.0.0.1:{echo_port}"
    assert report["requests"] > 0
    assert report["bytes_received"] == report["requests"] * 200
    assert report["error_count"] == 0
    assert set(report["latency_ms"]) == {"p50", "p90", "p99", "max", "mean"}
    assert set(report["errors"]) >= {"refused", "reset", "timeout", "mismatch"}


def test_table_report(echo_port: int) -> None:
    result = invoke_netdiag("load", f"127.0.0.1:{echo_port}", "-c", "1", "-d", "0.3")
    assert result.returncode == ExitStatus.OK, result.stderr
    header, row = result.stdout.strip().splitlines()
    assert "REQ/S" in header and "P99 MS" in header
    assert row.split()[0] == f"127.0.0.1:{echo_port}"


def test_refused_is_explained_with_exit_1() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        result = invoke_netdiag("load", f"127.0.0.1:{holder.getsockname()[1]}", "-d", "1")
    finally:
        holder.close()
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "Traceback" not in result.stderr
    assert "connection refused" in result.stderr
    assert "nothing is listening" in result.stderr


def test_an_over_long_host_label_is_the_dns_sentence_not_a_traceback() -> None:
    host = "a" * 64 + ".example"  # over 63 characters: the idna codec refuses it, no query is made
    result = run_netdiag("load", f"{host}:7", "-d", "1")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    assert "Traceback" not in result.stderr and "UnicodeError:" not in result.stderr.splitlines()[-1]
    assert f"error: Cannot resolve '{host}': it is not a valid host name (" in result.stderr
    assert "could not be turned into an address" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["192.0.2.1:7"],
        ["127.0.0.1:7", "--duration", "301"],
        ["127.0.0.1:7", "--clients", "0"],
        ["127.0.0.1:7", "--udp", "--size", "70000"],
        ["not-a-target"],
    ],
)
def test_usage_errors(args: list[str]) -> None:
    result = invoke_netdiag("load", *args)
    assert result.returncode == ExitStatus.USAGE
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr


def _output_packets(net: TwoHosts) -> int:
    listing = net.client.run("iptables", "-w", "-L", "OUTPUT", "-v", "-x", "-n").stdout
    rule = next(line for line in listing.splitlines() if net.server_addr in line)
    return int(rule.split()[0])


@pytest.mark.root
def test_non_local_target_is_refused_before_any_packet(net: TwoHosts) -> None:
    net.client.iptables("-A", "OUTPUT", "-d", net.server_addr)  # a counting rule, no verdict
    server = net.server.popen(sys.executable, "-c", ECHO_SERVER, net.server_addr)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        refused = run_netdiag("load", f"{net.server_addr}:{port}", "-d", "1", netns=net.client.name)
        assert refused.returncode == ExitStatus.USAGE, refused.stderr
        assert "--allow-remote" in refused.stderr
        assert _output_packets(net) == 0
        # The counter can move: with --allow-remote the same run reaches the server.
        allowed = run_netdiag("load", f"{net.server_addr}:{port}", "-d", "0.3", "-c", "1",
                              "--allow-remote", "-f", "json", netns=net.client.name)
        assert allowed.returncode == ExitStatus.OK, allowed.stderr
        assert json.loads(allowed.stdout)["requests"] > 0
        assert _output_packets(net) > 0
    finally:
        server.kill()
        server.wait(timeout=10)


@pytest.mark.root
def test_address_of_a_local_interface_is_allowed(net: TwoHosts) -> None:
    server = net.client.popen(sys.executable, "-c", ECHO_SERVER, net.client_addr)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        result = run_netdiag("load", f"{net.client_addr}:{port}", "-d", "0.3", "-c", "1",
                             netns=net.client.name)
        assert result.returncode == ExitStatus.OK, result.stderr
    finally:
        server.kill()
        server.wait(timeout=10)


def test_against_the_lab_echo_server() -> None:
    from lab.runner import running_lab_server

    with running_lab_server("echo_server") as server:
        result = invoke_netdiag("load", server.address, "-c", "4", "-d", "0.5", "--size", "5000",
                                "-f", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    report = json.loads(result.stdout)
    assert report["requests"] > 0 and report["error_count"] == 0


def test_lab_udp_server_truncates_large_datagrams_as_mismatches() -> None:
    from lab.runner import running_lab_server

    with running_lab_server("udp_echo_server") as server:
        small = invoke_netdiag("load", server.address, "--udp", "-c", "2", "-d", "0.4", "-f", "json")
        large = invoke_netdiag("load", server.address, "--udp", "-c", "1", "-d", "0.4", "--size", "2000",
                               "-f", "json")
    assert small.returncode == ExitStatus.OK, small.stderr
    assert json.loads(small.stdout)["requests"] > 0
    assert large.returncode == ExitStatus.NETWORK_SAID_NO  # recvfrom(1024) keeps 1,024 of 2,000 bytes
    assert json.loads(large.stdout)["errors"]["mismatch"] > 0
    assert "mismatch" in large.stderr


@pytest.mark.parametrize("engine", ENGINES)  # not the fixture: keeps the test ids as they were
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_against_netdiag_listen(engine: str, proto: str) -> None:
    """What an instructor does to compare the two engines: every echoed byte checked, nothing lost."""
    udp = ["--udp"] if proto == "udp" else []
    with running_server("--mode", "echo", "--engine", engine, "--quiet", *udp) as server:
        result = invoke_netdiag("load", f"{server.host}:{server.port}", "-c", "8", "-d", "0.5",
                                "--size", "700", *udp, "-f", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    report = json.loads(result.stdout)
    assert report["proto"] == proto and report["requests"] > 0 and report["error_count"] == 0
    assert report["bytes_received"] == report["bytes_sent"] == report["requests"] * 700


def test_ctrl_c_stops_early_and_still_reports(echo_port: int) -> None:
    process = popen_netdiag("load", f"127.0.0.1:{echo_port}", "-c", "2", "-d", "60", "-f", "json")
    stderr: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: stderr.extend(process.stderr or []), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("loading" in line for line in stderr), timeout=15, what="the load to start")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)  # the report is small: it fits in the pipe, read below
        assert process.stdout is not None
        stdout = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    reader.join(timeout=5)
    assert process.returncode == ExitStatus.INTERRUPTED, "".join(stderr)
    assert "Traceback" not in "".join(stderr)
    assert "interrupted after" in "".join(stderr)
    report = json.loads(stdout)
    assert report["interrupted"] is True
    assert report["elapsed_s"] < 60  # stopped at the signal, not at --duration
    assert report["error_count"] == 0  # requests cut short by the signal are not failures


@pytest.mark.parametrize("udp", [[], ["--udp"]])
def test_a_reply_server_is_a_mismatch_with_its_answer_and_no_latency(udp: list[str]) -> None:
    with running_server("--mode", "reply", "--quiet", *udp) as server:
        table = invoke_netdiag("load", f"127.0.0.1:{server.port}", *udp, "-c", "1", "-d", "0.3")
        data = invoke_netdiag("load", f"127.0.0.1:{server.port}", *udp, "-c", "1", "-d", "0.3", "-f", "json")
    assert table.returncode == ExitStatus.NETWORK_SAID_NO
    assert "mismatch: the server answered 'accepted\\n' (9 bytes)" in table.stderr
    row = table.stdout.splitlines()[1].split()
    assert row[4:8] == ["-", "-", "-", "-"] or row[6:10] == ["-", "-", "-", "-"], table.stdout
    record = json.loads(data.stdout)
    assert record["latency_ms"]["p99"] is None and record["requests"] == 0
    assert record["errors"]["mismatch"] > 0
    assert not record["errors"].get("timeout") and not record["errors"].get("no-answer")


def test_udp_sink_is_named_not_timed_out() -> None:
    with running_server("--mode", "sink", "--udp", "--quiet") as server:
        result = invoke_netdiag("load", f"127.0.0.1:{server.port}", "--udp", "-d", "0.3", "-t", "0.3")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "the server received the datagram and sent nothing back" in result.stderr
    assert "accept queue" not in result.stderr and "refused" not in result.stderr
