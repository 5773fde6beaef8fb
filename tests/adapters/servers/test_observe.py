"""``netdiag listen --observe``: the server's log names the attempts that never became a connection.

Two namespaces (tests/helpers/netns.py): the server, run with ``--observe``, in one; a client in the other
(198.18.0.1 -> 198.18.0.2). Each test makes one kind of failure happen for real (an iptables rule on
either side, a server bound to 127.0.0.1) and reads the server's JSON log. Without the observer none of
these events exist: the engines never see a SYN that did not become a connection.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from helpers.cli import netdiag_env
from helpers.netns import CLIENT_ADDR, SERVER_ADDR, Namespace, TwoHosts
from helpers.servers import ServerHandle, running_server
from helpers.unprivileged import nobody_runtime
from helpers.waiting import wait_until

pytestmark = pytest.mark.root

CONNECT = """
import errno, select, socket, sys, time
host, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
pending = []
for _ in range(count):
    sock = socket.socket()
    sock.setblocking(False)
    sock.connect_ex((host, port))
    pending.append(sock)
deadline = time.monotonic() + timeout
while pending and (left := deadline - time.monotonic()) > 0:
    for sock in select.select([], pending, [], left)[1]:
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        print(errno.errorcode[code] if code else "connected")
        pending.remove(sock)
        sock.close()
print("\\n".join(["timeout"] * len(pending)))
"""


def connect_from(ns: Namespace, host: str, port: int, *, count: int = 1, timeout: float = 2.5) -> list[str]:
    """``count`` connects at once from inside ``ns``, each ``connected``, an errno name or ``timeout``."""
    result = ns.run(sys.executable, "-c", CONNECT, host, str(port), str(count), str(timeout),
                    timeout=timeout + 20)
    return sorted(result.stdout.split())


def veth(ns: Namespace) -> str:
    return ns.run("ip", "-o", "link", "show", "type", "veth").stdout.split(":")[1].strip().split("@")[0]


@contextmanager
def observing(net: TwoHosts, address: str = "0.0.0.0:0", *args: str) -> Iterator[ServerHandle]:
    with running_server("--observe", *args, address=address, netns=net.server.name) as server:
        server.wait_for_event("observing", timeout=20)
        yield server


def test_a_dropped_syn_is_named_with_the_rule(net: TwoHosts) -> None:
    with observing(net) as server:
        net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(server.port), "-j", "DROP")
        assert connect_from(net.client, SERVER_ADDR, server.port) == ["timeout"]
        event = server.wait_for_event("unanswered-syn", timeout=10)
    assert event["peer"].startswith(f"{CLIENT_ADDR}:")
    assert event["local"] == f"{SERVER_ADDR}:{server.port}"
    assert event["interface"] == veth(net.server)
    assert event["reason"] == "firewall-drop"
    assert event["rule"] == f"-A INPUT -p tcp -m tcp --dport {server.port} -j DROP"
    assert event["syns"] >= 2  # reported on the client's retransmission
    assert not server.of("connect")


def test_a_reject_with_tcp_reset_is_the_firewalls_not_the_listeners(net: TwoHosts) -> None:
    with observing(net) as server:
        net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(server.port), "-j", "REJECT",
                            "--reject-with", "tcp-reset")
        assert connect_from(net.client, SERVER_ADDR, server.port) == ["ECONNREFUSED"]
        event = server.wait_for_event("reset-sent", timeout=10)
    assert event["reason"] == "firewall-reset"
    assert "-j REJECT --reject-with tcp-reset" in event["rule"]
    assert event["interface"] == veth(net.server)


def test_a_server_bound_to_loopback_resets_the_other_address(net: TwoHosts) -> None:
    with observing(net, "127.0.0.1:0") as server:
        assert connect_from(net.client, SERVER_ADDR, server.port) == ["ECONNREFUSED"]
        event = server.wait_for_event("reset-sent", timeout=10)
    assert event["reason"] == "not-bound"
    assert event["bound"] == "127.0.0.1"
    assert event["local"] == f"{SERVER_ADDR}:{server.port}"
    assert event["peer"].startswith(f"{CLIENT_ADDR}:")


def test_a_lost_syn_ack_leaves_the_handshake_incomplete(net: TwoHosts) -> None:
    with observing(net) as server:
        net.client.iptables("-A", "INPUT", "-p", "tcp", "--sport", str(server.port), "--tcp-flags",
                            "SYN,ACK", "SYN,ACK", "-j", "DROP")
        assert connect_from(net.client, SERVER_ADDR, server.port) == ["timeout"]
        event = server.wait_for_event("handshake-incomplete", timeout=10)
        assert not server.of("unanswered-syn")
    assert event["reason"] == "no-ack"
    assert event["peer"].startswith(f"{CLIENT_ADDR}:")


def test_a_burst_of_dropped_syns_is_summed_up_not_flooded(net: TwoHosts) -> None:
    """30 unanswered attempts from one address: 3 lines, then one line counting the other 27."""
    with observing(net) as server:
        net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(server.port), "-j", "DROP")
        assert connect_from(net.client, SERVER_ADDR, server.port, count=30) == ["timeout"] * 30
        summary = server.wait_for_event("repeated", timeout=15)  # once the 5 s window is over
        shown = server.of("unanswered-syn")
    assert len(shown) == 3
    assert summary["count"] == 27
    assert summary["of"] == "unanswered-syn" and summary["source"] == CLIENT_ADDR


def test_accepted_connections_are_not_reported(net: TwoHosts) -> None:
    with observing(net) as server:
        assert connect_from(net.client, SERVER_ADDR, server.port, count=5) == ["connected"] * 5
        wait_until(lambda: len(server.of("close")) == 5, timeout=10, what="the five closes")
    kinds = {e["event"] for e in server.events}  # all of them: the observer stopped before `shutdown`
    assert not kinds & {"unanswered-syn", "handshake-incomplete", "reset-sent", "repeated"}, kinds


def test_without_capture_privileges_one_note_and_normal_service() -> None:
    runtime = nobody_runtime()
    process = subprocess.Popen(runtime.argv("-m", "netdiag", "listen", "0", "--observe", "--log", "json"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=runtime.env(netdiag_env()), cwd="/")
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        port = int(first.split('"port": ')[1].split(",")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"still served\n")
            assert sock.recv(100) == b"still served\n"
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    notes = [line for line in err.splitlines() if "--observe" in line]
    assert len(notes) == 1, err
    assert "may not capture packets" in notes[0] and "sudo netdiag listen 0 --observe" in notes[0]
    assert "Traceback" not in err
    assert '"event": "observing"' not in out


def test_syns_dropped_by_a_full_accept_queue_are_named(net: TwoHosts) -> None:
    """A server that stops accepting (SIGSTOP) with a backlog of 4 (somaxconn in its namespace): five
    connections complete and wait in the queue, the next SYNs are dropped by the kernel."""
    net.server.run("sysctl", "-qw", "net.core.somaxconn=4")
    with observing(net) as server:
        server.process.send_signal(signal.SIGSTOP)
        try:
            outcomes = connect_from(net.client, SERVER_ADDR, server.port, count=8)
        finally:
            server.process.send_signal(signal.SIGCONT)
        assert outcomes == ["connected"] * 5 + ["timeout"] * 3
        event = server.wait_for_event("unanswered-syn", timeout=10)
    assert event["reason"] == "accept-queue-full"
    assert (event["queued"], event["backlog"]) == (5, 4)
    assert event["rule"] is None


IMPORTS_AT_EXIT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('heavy:', sorted({m.split('.')[0] for m in sys.modules} & {'scapy'}),"
    " file=sys.stderr))\n"
    "from netdiag.cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.parametrize("observe", [True, False], ids=["observe", "plain"])
def test_the_server_process_never_imports_scapy(observe: bool) -> None:
    """The capture's scapy lives in the observer's process: the server's own start-up and memory stay
    as they were, with or without --observe."""
    args = ["listen", "0", "--log", "json", *(["--observe"] if observe else [])]
    process = subprocess.Popen([sys.executable, "-c", IMPORTS_AT_EXIT, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=netdiag_env())
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        wanted = '"observing"' if observe else '"listening"'
        wait_until(lambda: any(wanted in line for line in list(lines)) or process.poll() is not None,
                   timeout=20, what=f"the server's {wanted} event")
    finally:
        process.send_signal(signal.SIGTERM)
        err = process.stderr.read() if process.stderr is not None else ""
        process.wait(timeout=10)
        reader.join(timeout=5)
    assert process.returncode == 0, err
    assert any(wanted in line for line in lines), lines
    assert "heavy: []" in err, err
