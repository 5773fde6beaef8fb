"""`netdiag explain --pcap` on captures made for real: tcpdump (and dumpcap) in namespaces the tests create.

Each test makes one outcome happen between two namespaces (a server, a client, iptables rules, tc netem)
while tcpdump records it on the client's veth, then reads the file with netdiag as a user would and checks
the verdict. tcpdump is started and awaited until it says "listening on"; it is stopped (SIGTERM) once the
file holds what the test waits for (a condition on the file, with a deadline), never after a sleep.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import Result, invoke_netdiag
from helpers.netns import Namespace, TwoHosts
from helpers.waiting import wait_until

from netdiag.adapters.capture.pcap_file import read_capture
from netdiag.core.capture_verdicts import verdicts
from netdiag.core.exit_status import ExitStatus

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump (./dev test)")]

PORT = 8000

# A server for every scenario: MODE says what it does with each connection.
SERVER = r"""
import socket, struct, sys
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if mode == "stall":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("0.0.0.0", port)); s.listen(8)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept()
    if mode == "reset":          # read a little, then abort (SO_LINGER 0): a RST mid-stream
        c.recv(5)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
    elif mode == "stall":        # never read: the receive window fills up and closes
        held.append(c)
    elif mode == "hold":         # answer, and keep the connection open (the client half-closed it)
        while (data := c.recv(65536)):
            c.sendall(data)
        c.sendall(b"bye\n"); held.append(c)
    else:                        # echo until the client's FIN, then close
        while (data := c.recv(65536)):
            c.sendall(data)
        c.close()
"""

CLIENT = r"""
import socket, sys, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(); s.settimeout(float(sys.argv[4]) if len(sys.argv) > 4 else 10)
try:
    s.connect((host, port))
except OSError as exc:
    print(type(exc).__name__, flush=True); sys.exit(0)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "stall":
    s.setblocking(False)
    try:
        while True: s.send(b"x" * 65536)
    except BlockingIOError:
        pass
    print("full", flush=True); sys.stdin.read(); sys.exit(0)
count = 60 if mode == "many" else 1
try:
    for i in range(count):
        s.sendall(b"hello\n")
        got = b""
        while len(got) < 6:
            got += s.recv(100)
    s.shutdown(socket.SHUT_WR)
    while s.recv(100): pass
except OSError as exc:
    print(type(exc).__name__, flush=True)
print("done", flush=True)
"""


def veth(ns: Namespace) -> str:
    """The namespace's veth interface (``two_hosts`` names it)."""
    out = ns.run("ip", "-o", "link", "show", "type", "veth").stdout
    return out.split(":")[1].strip().split("@")[0]


@contextmanager
def capturing(process: subprocess.Popen[str], ready: str) -> Iterator[None]:
    """Yield once the capture tool said ``ready`` on stderr (read in a thread: it may print warnings
    first); SIGTERM it and wait at the end, so it writes out what it holds."""
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(process.stderr or []), daemon=True)
    reader.start()
    try:
        wait_until(lambda: ready in "".join(stderr) or process.poll() is not None, timeout=15,
                   what=f"the capture to say {ready!r}")
        assert process.poll() is None, "".join(stderr)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        reader.join(5)


@contextmanager
def tcpdump(ns: Namespace, path: Path, *args: str) -> Iterator[None]:
    """tcpdump writing ``path`` inside ``ns``, yielded once it is capturing ("listening on")."""
    with capturing(ns.popen("tcpdump", "-U", "-n", "-w", str(path), *args), "listening on"):
        yield


@contextmanager
def server(ns: Namespace, mode: str, port: int = PORT) -> Iterator[subprocess.Popen[str]]:
    process = ns.popen(sys.executable, "-c", SERVER, mode, str(port))
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "ready"
        yield process
    finally:
        process.kill()
        process.wait(10)


def client(net: TwoHosts, mode: str = "once", port: int = PORT, timeout: float = 10) -> str:
    return net.client.run(sys.executable, "-c", CLIENT, net.server_addr, str(port), mode, str(timeout),
                          timeout=60).stdout


def file_shows(path: Path, predicate: Any) -> Any:
    """Wait until the capture file (read by netdiag's own reader) holds a connection matching predicate."""
    def check() -> bool:
        found = read_capture(str(path))
        return any(predicate(v) for v in verdicts(found.table))
    return wait_until(check, timeout=15, what=f"the capture {path.name} to show the outcome")


def explain(path: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    """``netdiag explain --pcap`` as users run it (no root needed: no namespace), JSON parsed."""
    result = invoke_netdiag("explain", "--pcap", str(path), "--format", "json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result, json.loads(result.stdout)


def only(document: dict[str, Any], port: int = PORT) -> dict[str, Any]:
    found = [c for c in document["connections"] if c["server"].endswith(f":{port}")]
    assert len(found) == 1, document["connections"]
    return found[0]


def test_completed_connection(net: TwoHosts, tmp_path: Path) -> None:
    path = tmp_path / "completed.pcap"
    with server(net.server, "echo"), tcpdump(net.client, path, "-i", veth(net.client), "tcp"):
        assert "done" in client(net)
        file_shows(path, lambda v: v.outcome.value == "completed")
    result, document = explain(path)
    conn = only(document)
    assert result.returncode == ExitStatus.OK
    assert (conn["outcome"], conn["cause"], conn["closed_by"]) == ("completed", "ok", "client")
    assert conn["bytes_to_server"] == 6 and conn["bytes_to_client"] == 6
    assert document["link_types"] == [1] and document["format"] == "pcap"
    text = invoke_netdiag("explain", "--pcap", str(path)).stdout
    assert "completed" in text and "|--- SYN" not in text  # no ladder for a connection that went well


def test_refused_connection_and_its_ladder(net: TwoHosts, tmp_path: Path) -> None:
    path = tmp_path / "refused.pcap"
    with tcpdump(net.client, path, "-i", veth(net.client), "tcp"):
        assert "ConnectionRefusedError" in client(net)
        file_shows(path, lambda v: v.outcome.value == "refused")
    result, document = explain(path)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert (only(document)["outcome"], only(document)["cause"]) == ("refused", "nothing-listening")
    assert [s["flags"] for s in only(document)["segments"]] == ["SYN", "RST,ACK"]
    text = invoke_netdiag("explain", "--pcap", str(path)).stdout
    assert "|--- SYN seq=0" in text and "|<-- RST,ACK" in text and "nothing listens on port 8000" in text


def test_reset_mid_stream_by_the_server_after_six_bytes(net: TwoHosts, tmp_path: Path) -> None:
    path = tmp_path / "reset.pcap"
    with server(net.server, "reset"), tcpdump(net.client, path, "-i", veth(net.client), "tcp"):
        assert "ConnectionResetError" in client(net)
        file_shows(path, lambda v: v.outcome.value == "reset")
    result, document = explain(path)
    conn = only(document)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert (conn["outcome"], conn["cause"], conn["reset_by"]) == ("reset", "connection-reset", "server")
    assert "after 6 bytes to the server and 0 to the client" in conn["reading"]  # "hello\n", no answer


def test_half_closed_connection_still_half_open_when_the_capture_ends(net: TwoHosts, tmp_path: Path) -> None:
    path = tmp_path / "half.pcap"
    with server(net.server, "hold"), tcpdump(net.client, path, "-i", veth(net.client), "tcp"):
        reader = net.client.popen(sys.executable, "-c", CLIENT, net.server_addr, str(PORT), "once", "5")
        file_shows(path, lambda v: v.outcome.value == "half-closed" and v.bytes_to_client >= 10)
    reader.kill()
    reader.wait(10)
    _, document = explain(path)
    conn = only(document)
    assert (conn["outcome"], conn["cause"], conn["closed_by"]) == ("half-closed", "ok", "client")
    assert "the server had not closed" in conn["reading"]


@pytest.mark.parametrize("known_host", [False, True], ids=["nothing-else", "host-seen"])
def test_dropped_syns(net: TwoHosts, tmp_path: Path, known_host: bool) -> None:
    """iptables DROP: the SYN is retransmitted and never answered; a capture that also shows the server
    answering something else (a ping) proves the host is up, so the verdict is the firewall."""
    net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(PORT), "-j", "DROP")
    path = tmp_path / "drop.pcap"
    with tcpdump(net.client, path, "-i", veth(net.client), "tcp or udp or icmp"):
        if known_host:
            send_udp(net, 9)
            file_shows(path, lambda v: v.icmp is not None)
        assert "TimeoutError" in client(net, timeout=2.5)
        file_shows(path, lambda v: v.syns >= 3)
    result, document = explain(path)
    conn = only(document)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert conn["outcome"] == "no-answer" and conn["syns"] >= 3
    assert conn["cause"] == ("firewall-drop" if known_host else "timeout")


@pytest.mark.parametrize(("reject_with", "outcome", "cause", "icmp"), [
    ("icmp-port-unreachable", "unreachable", "firewall-reject", "port unreachable (type 3 code 3)"),
    ("icmp-admin-prohibited", "unreachable", "firewall-reject",
     "communication administratively prohibited (type 3 code 13)"),
    ("icmp-host-unreachable", "unreachable", "firewall-reject", "host unreachable (type 3 code 1)"),
    ("tcp-reset", "refused", "nothing-listening", None),
])
def test_rejected_syns(net: TwoHosts, tmp_path: Path, reject_with: str, outcome: str, cause: str,
                       icmp: str | None) -> None:
    with server(net.server, "echo"):  # a server listens: only the firewall answers
        net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(PORT), "-j", "REJECT",
                            "--reject-with", reject_with)
        path = tmp_path / f"{reject_with}.pcap"
        with tcpdump(net.client, path, "-i", veth(net.client), "tcp or icmp"):
            client(net, timeout=5)
            file_shows(path, lambda v: v.outcome.value == outcome)
    result, document = explain(path)
    conn = only(document)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert (conn["outcome"], conn["cause"], conn["icmp"]) == (outcome, cause, icmp)
    if icmp:
        assert conn["icmp_from"] == net.server_addr and conn["packets"] == 2  # the SYN and the ICMP
        ladder = invoke_netdiag("explain", "--pcap", str(path)).stdout
        assert f"|<-- ICMP {icmp} from {net.server_addr}" in ladder


def test_retransmissions_counted_under_loss(net: TwoHosts, tmp_path: Path) -> None:
    """The server's replies and ACKs are lost, so the client's kernel sends its data again. The loss is
    tc netem where the kernel has it, else an iptables statistic rule (this test kernel has no
    sch_netem): both drop 30% of the server's segments at random, inside the server's namespace."""
    netem = net.server.run("tc", "qdisc", "add", "dev", veth(net.server), "root", "netem", "loss", "30%",
                           check=False)
    if netem.returncode != 0:
        net.server.iptables("-A", "OUTPUT", "-p", "tcp", "--sport", str(PORT), "-m", "statistic",
                            "--mode", "random", "--probability", "0.3", "-j", "DROP")
    path = tmp_path / "loss.pcap"
    with server(net.server, "echo"), tcpdump(net.client, path, "-i", veth(net.client), "tcp"):
        client(net, mode="many", timeout=30)
        file_shows(path, lambda v: v.outcome.value in ("completed", "half-closed", "reset"))
    _, document = explain(path)
    conn = only(document)
    assert conn["retransmissions"]["client"] >= 1, conn
    assert "data retransmission(s)" in conn["reading"]


def test_zero_window_stall_counted(net: TwoHosts, tmp_path: Path) -> None:
    path = tmp_path / "stall.pcap"
    with server(net.server, "stall"), tcpdump(net.client, path, "-i", veth(net.client), "tcp"):
        writer = net.client.popen(sys.executable, "-c", CLIENT, net.server_addr, str(PORT), "stall",
                                  stdin=subprocess.PIPE)
        try:
            file_shows(path, lambda v: v.zero_windows[1] >= 1)
        finally:
            writer.kill()
            writer.wait(10)
    _, document = explain(path)
    assert only(document)["zero_window_stalls"]["server"] >= 1


def send_udp(net: TwoHosts, port: int) -> None:
    net.client.run(sys.executable, "-c", "import socket; s = socket.socket(type=socket.SOCK_DGRAM); "
                   f"s.sendto(b'ping', ('{net.server_addr}', {port}))")


def test_udp_port_unreachable(net: TwoHosts, tmp_path: Path) -> None:
    path = tmp_path / "udp.pcap"
    with tcpdump(net.client, path, "-i", veth(net.client), "udp or icmp"):
        send_udp(net, 9999)
        file_shows(path, lambda v: v.proto == "udp" and v.icmp is not None)
    result, document = explain(path, "--port", "9999")
    conn = only(document, 9999)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert (conn["proto"], conn["outcome"], conn["cause"]) == ("udp", "unreachable", "nothing-listening")


# --- one capture per link type and file format, made by the real tools ----------------------------------

LOOPBACK_CLIENT = (
    "import socket; s = socket.create_connection(('127.0.0.1', {port})); s.sendall(b'hi\\n');"
    "s.shutdown(socket.SHUT_WR);\nwhile s.recv(100): pass\ns.close();\n"
    "for host in ('127.0.0.1', '::1'):\n"
    "    try: socket.create_connection((host, {closed}))\n"
    "    except ConnectionRefusedError: print('refused')"
)


def loopback_story(ns: Namespace) -> None:
    """One completed connection and one refused one on the namespace's 127.0.0.1, one refused on ::1."""
    with server(ns, "echo"):
        ns.run(sys.executable, "-c", LOOPBACK_CLIENT.format(port=PORT, closed=PORT + 1))


@pytest.mark.parametrize(("args", "link_type"), [
    (("-i", "lo"), 1),
    (("-i", "any", "-y", "LINUX_SLL"), 113),
    (("-i", "any", "-y", "LINUX_SLL2"), 276),
    (("-i", "lo", "--time-stamp-precision=nano"), 1),
], ids=["ethernet-lo", "sll-any", "sll2-any", "nanoseconds"])
def test_link_types_written_by_tcpdump(private_loopback: Namespace, tmp_path: Path, args: tuple[str, ...],
                                       link_type: int) -> None:
    path = tmp_path / "lo.pcap"
    with tcpdump(private_loopback, path, *args, "tcp"):
        loopback_story(private_loopback)
        file_shows(path, lambda v: v.outcome.value == "completed")
        file_shows(path, lambda v: v.outcome.value == "refused" and v.server[0] == "::1")
    _, document = explain(path)
    assert document["link_types"] == [link_type]
    outcomes = sorted((c["outcome"], c["server"], sum(c["retransmissions"].values()))
                      for c in document["connections"])
    assert outcomes == [("completed", f"127.0.0.1:{PORT}", 0), ("refused", f"127.0.0.1:{PORT + 1}", 0),
                        ("refused", f"[::1]:{PORT + 1}", 0)]  # each segment once: no copy looks resent
    assert 0 < document["duration_s"] < 30  # the timestamps' unit was read right (µs or ns)


@pytest.mark.skipif(shutil.which("dumpcap") is None, reason="needs dumpcap (wireshark-common, ./dev test)")
def test_pcapng_written_by_dumpcap(private_loopback: Namespace, tmp_path: Path) -> None:
    path = tmp_path / "lo.pcapng"
    tmp_path.chmod(0o777)
    dumpcap = private_loopback.popen("dumpcap", "-i", "lo", "-f", "tcp", "-w", str(path))
    with capturing(dumpcap, "Capturing on"):
        loopback_story(private_loopback)
        file_shows(path, lambda v: v.outcome.value == "refused" and v.server[0] == "::1")
    _, document = explain(path)
    assert document["format"] == "pcapng" and document["link_types"] == [1]
    assert sorted(c["outcome"] for c in document["connections"]) == ["completed", "refused", "refused"]


TUN_HOLDER = r"""
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", sys.argv[1].encode(), IFF_TUN | IFF_NO_PI))
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not Path("/dev/net/tun").exists(), reason="needs /dev/net/tun")
def test_raw_ip_written_by_tcpdump_on_a_tun_device(private_loopback: Namespace, tmp_path: Path) -> None:
    """A tun device has no link header: tcpdump writes raw IP. Nobody answers behind it (the holder
    only keeps the device up), so the SYNs go unanswered."""
    ns = private_loopback
    holder = ns.popen(sys.executable, "-c", TUN_HOLDER, "ndtun0", stdin=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        ns.run("ip", "addr", "add", "198.18.5.1/24", "dev", "ndtun0")
        ns.run("ip", "link", "set", "ndtun0", "up")
        path = tmp_path / "tun.pcap"
        with tcpdump(ns, path, "-i", "ndtun0", "tcp"):
            ns.run(sys.executable, "-c", "import socket\ntry: socket.create_connection(('198.18.5.2', 80), "
                   "timeout=1.5)\nexcept OSError: pass")
            file_shows(path, lambda v: v.syns >= 2)
    finally:
        holder.kill()
        holder.wait(10)
    _, document = explain(path)
    assert document["link_types"] == [101]
    [conn] = document["connections"]
    assert (conn["outcome"], conn["cause"], conn["server"]) == ("no-answer", "timeout", "198.18.5.2:80")
