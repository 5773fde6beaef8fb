"""`netdiag probe` as users run it: exit codes, formats, usage errors, big scans, start-up imports."""

from __future__ import annotations

import csv
import io
import json
import resource
import socket
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from helpers.cli import NETDIAG, invoke_netdiag, netdiag_env, run_netdiag
from helpers.imports import heavy_packages_loaded
from helpers.netns import Namespace

from netdiag.core.exit_status import ExitStatus


def test_open_port_exits_zero_with_a_table(listener: int) -> None:
    result = invoke_netdiag("probe", f"127.0.0.1:{listener}")
    assert result.returncode == ExitStatus.OK, result.stderr
    header, row = result.stdout.strip().splitlines()
    assert header.split() == ["HOST", "ADDRESS", "PORT", "SERVICE", "PROTO", "STATE", "REASON", "RTT_MS"]
    assert row.split() == ["127.0.0.1", "127.0.0.1", str(listener), "-", "tcp", "open", "listener", "-"]
    assert result.stderr == ""


def test_any_port_not_open_exits_one(listener: int, closed_port: int) -> None:
    """A port of this host is read from the socket table: nothing is sent, so there is no round trip."""
    result = invoke_netdiag("probe", f"127.0.0.1:{listener},{closed_port}", "--format", "json")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    records = json.loads(result.stdout)
    assert [(r["port"], r["state"], r["reason"], r["method"]) for r in records] == sorted([
        (listener, "open", "listener", "socket-table"),
        (closed_port, "closed", "no-listener", "socket-table")])
    for record in records:
        assert list(record) == ["host", "address", "port", "service", "proto", "state", "reason", "rtt_ms",
                                "method", "detail"]
        assert record["rtt_ms"] is None and "socket table" in record["detail"]


def test_connect_asks_this_host_with_a_real_connection(listener: int, closed_port: int) -> None:
    result = invoke_netdiag("probe", f"127.0.0.1:{listener},{closed_port}", "--connect", "--format", "json")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    records = json.loads(result.stdout)
    assert [(r["port"], r["state"], r["reason"], r["method"]) for r in records] == sorted([
        (listener, "open", "syn-ack", "connect"), (closed_port, "closed", "conn-refused", "connect")])
    assert all(isinstance(record["rtt_ms"], float) for record in records)
    assert result.stderr.count("was probed with a real connection, as --connect asked") == 1


def test_several_targets_in_one_call(listener: int) -> None:
    result = invoke_netdiag("probe", f"127.0.0.1:{listener}", f"localhost:{listener}", "-4", "-f", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert [r["host"] for r in json.loads(result.stdout)] == ["127.0.0.1", "localhost"]


def test_csv_output(closed_port: int) -> None:
    result = invoke_netdiag("probe", f"127.0.0.1:{closed_port}", "--format", "csv", "--connect")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows == [{"host": "127.0.0.1", "address": "127.0.0.1", "port": str(closed_port), "service": "-",
                     "proto": "tcp", "state": "closed", "reason": "conn-refused",
                     "rtt_ms": rows[0]["rtt_ms"]}]
    assert float(rows[0]["rtt_ms"]) >= 0


def test_explain_adds_cause_and_explanation(closed_port: int) -> None:
    result = invoke_netdiag("probe", f"127.0.0.1:{closed_port}", "--explain", "-f", "json")
    [record] = json.loads(result.stdout)
    assert record["cause"] == "nothing-listening"
    assert record["explanation"]["fixes"], record
    table = invoke_netdiag("probe", f"127.0.0.1:{closed_port}", "--explain")
    assert "nothing-listening" in table.stdout
    assert "How to fix it" in table.stderr  # the explanation goes to stderr, the table stays data


def test_udp_probe_of_this_host_reads_the_socket_table_and_sends_nothing(closed_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        bound = sock.getsockname()[1]
        result = invoke_netdiag("probe", f"127.0.0.1:{bound},{closed_port}", "--udp", "-f", "json")
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recvfrom(100)  # not one datagram reached the server
    by_port = {record["port"]: record for record in json.loads(result.stdout)}  # rows come sorted by port
    first, second = by_port[bound], by_port[closed_port]
    assert (first["state"], first["reason"], first["method"]) == ("open", "listener", "socket-table")
    assert first["detail"] == f"UDP socket bound to 127.0.0.1:{bound} (read from this host's socket table)"
    assert (second["state"], second["reason"], second["method"]) == ("closed", "no-listener", "socket-table")
    assert "ICMP port-unreachable" in second["detail"]
    assert result.returncode == ExitStatus.NETWORK_SAID_NO


@pytest.mark.parametrize(("options", "datagram"), [([], b"hello"), (["--payload", "ping\\n"], b"ping\n")])
def test_udp_probe_that_sends_sends_the_payload_never_an_empty_datagram(options: list[str],
                                                                         datagram: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        silent = sock.getsockname()[1]
        result = invoke_netdiag("probe", f"127.0.0.1:{silent}", "--udp", "--connect", "--timeout", "0.3",
                             "-f", "json", *options)
        sock.settimeout(5)
        assert sock.recvfrom(100)[0] == datagram  # the first probe; the second one (half the timeout) too
        assert sock.recvfrom(100)[0] == datagram
    [record] = json.loads(result.stdout)
    assert (record["proto"], record["state"], record["reason"]) == ("udp", "open|filtered", "no-response")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["127.0.0.1"], "has no port"),
        (["127.0.0.1:0"], "out of range"),
        (["127.0.0.1:9-1"], "goes backwards"),
        (["127.0.0.1:nosuchservice"], "Unknown service name"),
        (["127.0.0.1:80", "-4", "-6"], "exclude each other"),
        (["127.0.0.1:80", "-6"], "127.0.0.1 is an IPv4 address, but -6"),
        (["[::1]:80", "-4"], "::1 is an IPv6 address, but -4"),
        (["127.0.0.1:80", "--timeout", "0"], "--timeout"),
        (["127.0.0.1:80", "--concurrency", "0"], "--concurrency"),
        (["127.0.0.1:80", "--udp", "--payload", ""], "--payload is empty"),
        (["127.0.0.1:80", "--payload", "x"], "add --udp"),
        (["127.0.0.1:80", "--udp", "--payload", "\\q"], "unknown escape"),
        ([], "Missing argument"),
    ],
)
def test_usage_errors_exit_two_without_probing(args: list[str], phrase: str) -> None:
    result = invoke_netdiag("probe", *args)
    assert result.returncode == ExitStatus.USAGE, result.stderr
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_bad_target_among_good_ones_stops_everything(listener: int) -> None:
    result = invoke_netdiag("probe", f"127.0.0.1:{listener}", "127.0.0.1:99999")
    assert result.returncode == ExitStatus.USAGE
    assert result.stdout == ""


def test_help_shows_the_target_forms_and_examples() -> None:
    result = invoke_netdiag("probe", "--help")
    assert "[IPv6]:PORTS" in result.stdout and "https" in result.stdout and "Examples:" in result.stdout
    usage = invoke_netdiag("probe", "127.0.0.1:no-such-service")
    assert usage.returncode == ExitStatus.USAGE


def test_ipv6_literal_in_brackets(ipv6_listener: int) -> None:
    result = invoke_netdiag("probe", f"[::1]:{ipv6_listener}", "-f", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    [record] = json.loads(result.stdout)
    assert (record["host"], record["address"], record["port"]) == ("::1", "::1", ipv6_listener)
    assert record["state"] == "open"


@pytest.mark.root
def test_service_names_become_ports_for_each_protocol(private_loopback: Namespace) -> None:
    # In a private namespace nothing listens, so the answers are known: refused (TCP), port-unreach (UDP).
    tcp = run_netdiag("probe", "127.0.0.1:ssh,http", "-f", "json", netns=private_loopback.name)
    assert [(r["port"], r["state"], r["reason"]) for r in json.loads(tcp.stdout)] == [
        (22, "closed", "no-listener"), (80, "closed", "no-listener")]
    udp = run_netdiag("probe", "--udp", "127.0.0.1:domain", "-f", "json", netns=private_loopback.name)
    assert [(r["port"], r["proto"], r["state"], r["reason"]) for r in json.loads(udp.stdout)] == [
        (53, "udp", "closed", "no-listener")]  # this host's port: read from the socket table
    assert udp.returncode == ExitStatus.NETWORK_SAID_NO


@pytest.mark.root
def test_bare_hosts_take_the_ports_option(private_loopback: Namespace) -> None:
    result = run_netdiag("probe", "127.0.0.1", "[::1]", "--ports", "7,9", "-f", "csv",
                         netns=private_loopback.name)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["host"], r["port"]) for r in rows] == [("127.0.0.1", "7"), ("127.0.0.1", "9"),
                                                      ("::1", "7"), ("::1", "9")]


@pytest.mark.root
def test_full_range_scan_lists_open_ports_and_counts_the_rest(private_loopback: Namespace) -> None:
    listeners = private_loopback.popen(sys.executable, "-c", LISTENERS, stdin=subprocess.PIPE)
    try:
        assert listeners.stdout is not None and listeners.stdout.readline().strip() == "ready"
        result = run_netdiag("probe", "127.0.0.1:1-65535", "-f", "json", netns=private_loopback.name)
    finally:
        listeners.kill()
        listeners.communicate(timeout=10)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    records = json.loads(result.stdout)
    assert [(r["port"], r["state"]) for r in records] == [(p, "open") for p in (22, 8000, 40000, 65535)]
    assert "Not shown: 65531 closed tcp ports (no-listener) on 127.0.0.1" in result.stderr
    assert "\r" not in result.stderr  # no progress bar into a pipe


@pytest.mark.root
def test_full_range_connect_scan_lists_open_ports_and_counts_the_rest(private_loopback: Namespace) -> None:
    listeners = private_loopback.popen(sys.executable, "-c", LISTENERS, stdin=subprocess.PIPE)
    try:
        assert listeners.stdout is not None and listeners.stdout.readline().strip() == "ready"
        result = run_netdiag("probe", "127.0.0.1:1-65535", "--connect", "-f", "json",
                             netns=private_loopback.name)
    finally:
        listeners.kill()
        listeners.communicate(timeout=10)
    records = json.loads(result.stdout)
    assert [(r["port"], r["state"]) for r in records] == [(p, "open") for p in (22, 8000, 40000, 65535)]
    assert "Not shown: 65531 closed tcp ports (conn-refused) on 127.0.0.1" in result.stderr


LISTENERS = """
import socket, sys
socks = []
for port in (22, 8000, 40000, 65535):
    s = socket.socket(); s.bind(("127.0.0.1", port)); s.listen(); socks.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.root
def test_all_lists_every_port(private_loopback: Namespace) -> None:
    result = run_netdiag("probe", "127.0.0.1:1000-1099", "--all", "-f", "csv", netns=private_loopback.name)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(r["port"]) for r in rows] == list(range(1000, 1100))
    assert {r["state"] for r in rows} == {"closed"}
    assert "Not shown" not in result.stderr


@pytest.mark.root
def test_progress_bar_on_a_terminal(private_loopback: Namespace) -> None:
    import os
    import pty

    main_fd, child_fd = pty.openpty()
    seen = bytearray()

    def read_terminal() -> None:  # drained while the scan runs: a full pty buffer would block netdiag
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    try:
        process = subprocess.Popen(
            ["ip", "netns", "exec", private_loopback.name, sys.executable, "-m", "netdiag", "probe",
             "127.0.0.1:1-2000", "--connect", "-f", "json"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child_fd)
        os.close(child_fd)
        reader.start()
        out, _ = process.communicate(timeout=60)
        reader.join(timeout=10)
    finally:
        os.close(main_fd)
    assert not reader.is_alive()
    assert json.loads(out) == []
    assert b"probing 2000 tcp ports [" in seen
    bar, _, after = bytes(seen).rpartition(b"\r\x1b[K")  # the bar is erased before the summary
    assert bar and after.startswith(b"Not shown: 2000 closed tcp ports")


def _file_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


@pytest.mark.root
def test_a_low_open_files_limit_caps_the_scan_and_says_so(private_loopback: Namespace) -> None:
    def probe(target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", private_loopback.name, *NETDIAG, "probe", target, "--connect", "-f",
             "json"],
            capture_output=True, text=True, timeout=60, env=netdiag_env(), stdin=subprocess.DEVNULL,
            preexec_fn=_file_limit(128))

    big = probe("127.0.0.1:1-300")
    assert big.returncode == ExitStatus.NETWORK_SAID_NO, big.stderr
    assert "Not shown: 300 closed tcp ports" in big.stderr
    assert "probed at most 64 ports at once: the open-files limit (ulimit -n)" in big.stderr
    small = probe("127.0.0.1:1-3")  # three probes never need more descriptors than the limit allows
    assert len(json.loads(small.stdout)) == 3
    assert small.stderr == ""


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_probe_imports_no_scapy_psutil_tabulate_or_pydantic(listener: int, fmt: str) -> None:
    result = heavy_packages_loaded(["probe", f"127.0.0.1:{listener}", "--format", fmt])
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.heavy == []


@pytest.mark.root
def test_ctrl_c_during_a_forked_scan_exits_130_and_leaves_no_worker(private_loopback: Namespace) -> None:
    import signal

    from helpers.cli import popen_netdiag
    from helpers.waiting import wait_until

    # Every SYN dropped: the scan (forked workers, 65,535 ports) would take minutes; we interrupt it.
    private_loopback.iptables("-A", "INPUT", "-p", "tcp", "-j", "DROP")

    def syn_sent() -> int:
        return len(private_loopback.run("ss", "-Htn", "state", "syn-sent").stdout.splitlines())

    process = popen_netdiag("probe", "127.0.0.1:1-65535", "--connect", "--timeout", "30", "-f", "json",
                            netns=private_loopback.name)
    try:
        wait_until(lambda: syn_sent() > 100, timeout=30, what="the scan's SYNs in flight")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == ExitStatus.INTERRUPTED, err
    assert "Traceback" not in err
    assert out == ""
    pids = subprocess.run(["ip", "netns", "pids", private_loopback.name], capture_output=True, text=True)
    assert pids.stdout.split() == [], "a scan worker outlived the interrupted scan"
    wait_until(lambda: syn_sent() == 0, timeout=10, what="every probe socket closed")


@pytest.mark.root
def test_ports_are_sorted_per_host_and_named_from_the_services_database(private_loopback: Namespace) -> None:
    """Given 8000,22,80 the rows come as 22, 80, 8000, hosts in the order given, with their service names
    (/etc/services: ssh, http; 8000 has none on Debian) in the table, JSON and CSV."""
    records = json.loads(run_netdiag("probe", "127.0.0.1:8000,22,80", "localhost:443,7", "-4", "-f", "json",
                                     netns=private_loopback.name).stdout)
    assert [(r["host"], r["port"]) for r in records] == [
        ("127.0.0.1", 22), ("127.0.0.1", 80), ("127.0.0.1", 8000), ("localhost", 7), ("localhost", 443)]
    assert [r["service"] for r in records] == ["ssh", "http", None, "echo", "https"]
    table = run_netdiag("probe", "127.0.0.1:80,22", netns=private_loopback.name).stdout.splitlines()
    assert table[0].split()[3] == "SERVICE"
    assert [line.split()[2:4] for line in table[1:]] == [["22", "ssh"], ["80", "http"]]
    rows = list(csv.DictReader(io.StringIO(run_netdiag("probe", "127.0.0.1:80", "-f", "csv",
                                                       netns=private_loopback.name).stdout)))
    assert rows[0]["service"] == "http"
