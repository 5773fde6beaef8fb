"""`netdiag handshake` as users run it: real captures on lo and in namespaces, checked against tcpdump."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import netdiag_env, popen_netdiag, run_netdiag
from helpers.netns import Namespace, TwoHosts
from helpers.servers import running_server
from helpers.streams import LineReader
from helpers.waiting import wait_until

from netdiag.core.exit_status import ExitStatus

needs_tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")


@dataclass
class Watch:
    """A running ``netdiag handshake --watch`` and the readers of its two streams."""

    process: subprocess.Popen[str]
    out: LineReader
    err: LineReader


@contextmanager
def watching(*args: str, netns: str | None = None) -> Iterator[Watch]:
    """``netdiag handshake --watch ARGS`` (inside ``netns`` when given), yielded once its capture is open
    (or it has exited); killed if still running when the block ends, its output fully read."""
    process = popen_netdiag("handshake", "--watch", *args, netns=netns)
    watch = Watch(process, LineReader(process.stdout), LineReader(process.stderr))
    try:
        wait_until(lambda: "Watching TCP port" in watch.err.text() or process.poll() is not None,
                   timeout=15, what="the watcher to start")
        yield watch
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        watch.err.join()
        watch.out.join()


@contextmanager
def tcpdump(port: int, *extra: str) -> Iterator[LineReader]:
    """``tcpdump -i lo -nn -S -l`` on ``port``, yielded once it says it is listening."""
    process = subprocess.Popen(["tcpdump", "-i", "lo", "-nn", "-S", "-l", *extra, f"tcp port {port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = LineReader(process.stdout), LineReader(process.stderr)
    try:
        wait_until(lambda: "listening on" in err.text() or process.poll() is not None, timeout=10,
                   what="tcpdump to listen")
        assert process.poll() is None, err.text()
        yield out
    finally:
        process.terminate()
        process.wait(10)
        out.join()
        err.join()


_TCPDUMP_LINE = re.compile(
    r"Flags \[(?P<flags>[^\]]+)\](?:, seq (?P<seq>\d+)(?::\d+)?)?(?:, ack (?P<ack>\d+))?")


def tcpdump_numbers(lines: list[str]) -> list[tuple[int | None, int | None]]:
    """(seq, ack) of every TCP line tcpdump printed (absolute, thanks to -S); None where it printed none."""
    found = []
    for line in lines:
        match = _TCPDUMP_LINE.search(line)
        if match:
            seq, ack = match.group("seq"), match.group("ack")
            found.append((int(seq) if seq else None, int(ack) if ack else None))
    return found


def ours(segments: list[dict[str, Any]]) -> list[tuple[int | None, int | None]]:
    """Our segments as tcpdump prints them: a pure ACK without data shows no seq."""
    numbers = []
    for s in segments:
        pure_ack = s["flags"] == "ACK" and s["len"] == 0
        numbers.append((None if pure_ack else s["seq"], s["ack"]))
    return numbers


def handshake_json(*args: str, netns: str | None = None) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = run_netdiag("handshake", *args, "--format", "json", netns=netns, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    return result, json.loads(result.stdout)


@pytest.mark.root
@needs_tcpdump
def test_open_port_diagram_matches_tcpdump_and_seq_arithmetic() -> None:
    with running_server("--mode", "echo") as server, tcpdump(server.port) as dump:
        result, document = handshake_json(f"127.0.0.1:{server.port}", "--message", "hello")
        segments = document["segments"]
        wait_until(lambda: len(tcpdump_numbers(dump.lines)) >= len(segments), timeout=10,
                   what="tcpdump to print every segment")
    assert result.returncode == ExitStatus.OK, result.stderr
    syn, syn_ack, ack = segments[:3]
    assert [syn["flags"], syn_ack["flags"], ack["flags"]] == ["SYN", "SYN,ACK", "ACK"]
    assert syn_ack["ack"] == (syn["seq"] + 1) % 2**32 and syn_ack["relative_ack"] == 1
    assert ack["ack"] == (syn_ack["seq"] + 1) % 2**32 and ack["relative_ack"] == 1
    assert syn["options"]["mss"] and syn["options"]["sack_permitted"]
    data = [s for s in segments if s["len"]]
    assert [(s["direction"], s["len"], s["relative_seq"]) for s in data] == [
        ("to-server", 6, 1), ("to-client", 6, 1)]
    assert sum("FIN" in s["flags"] for s in segments) == 2
    assert ours(segments) == tcpdump_numbers(dump.lines)
    summary = document["summary"]
    assert summary["outcome"] == "accepted" and summary["teardown"] == "fin"
    assert summary["reading"].startswith(f"{len(segments)} segments, ")
    assert "the server accepted" in summary["reading"]


@pytest.mark.root
def test_text_diagram_has_the_handshake_rows_and_the_reading() -> None:
    with running_server("--mode", "echo") as server:
        result = run_netdiag("handshake", f"127.0.0.1:{server.port}", "--absolute")
    assert result.returncode == ExitStatus.OK, result.stderr
    lines = result.stdout.splitlines()
    assert "CLIENT 127.0.0.1:" in lines[0] and f"SERVER 127.0.0.1:{server.port}" in lines[0]
    assert "|--- SYN seq=" in lines[1] and "|<-- SYN,ACK seq=" in lines[2] and "|--- ACK seq=" in lines[3]
    assert "seq=0 " not in lines[1] or "ISN 0" in result.stdout  # --absolute: real numbers
    assert any(line.startswith("Handshake RTT: ") for line in lines)
    assert lines[-1].startswith("Reading: ") and "the server accepted" in lines[-1]


@pytest.mark.root
@needs_tcpdump
def test_pcap_file_reads_back_with_tcpdump(tmp_path: Path) -> None:
    pcap = tmp_path / "handshake.pcap"
    with running_server("--mode", "echo") as server:
        result, document = handshake_json(f"127.0.0.1:{server.port}", "--message", "hi",
                                          "--pcap", str(pcap))
    assert result.returncode == ExitStatus.OK, result.stderr
    read = subprocess.run(["tcpdump", "-r", str(pcap), "-nn", "-S"], capture_output=True, text=True,
                          timeout=30, check=True)
    lines = read.stdout.splitlines()
    assert len(lines) == len(document["segments"])
    assert ours(document["segments"]) == tcpdump_numbers(lines)
    assert "Flags [S]" in lines[0] and "Flags [S.]" in lines[1]


@pytest.mark.root
def test_unknown_interface_is_a_usage_error() -> None:
    result = run_netdiag("handshake", "127.0.0.1:9", "--iface", "no-such-if0")
    assert result.returncode == ExitStatus.USAGE, result.stderr
    assert "No interface named 'no-such-if0'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.root
def test_refused_port_shows_rst_and_explains() -> None:
    with socket.socket() as reserved:  # bound, not listening: refuses, and no one else can take it
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = run_netdiag("handshake", f"127.0.0.1:{port}")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "|<-- RST,ACK seq=0 ack=1" in result.stdout
    assert "refused" in result.stdout.splitlines()[-1]
    assert "nothing is listening" in result.stderr and "Traceback" not in result.stderr


def _in_client(net: TwoHosts, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    return handshake_json(*args, netns=net.client.name)


@pytest.mark.root
def test_filtered_port_shows_syn_retransmissions(net: TwoHosts) -> None:
    net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", "9000", "-j", "DROP")
    result, document = _in_client(net, f"{net.server_addr}:9000", "--timeout", "1.6")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    segments, summary = document["segments"], document["summary"]
    assert summary["outcome"] == "filtered" and summary["cause"] == "timeout"
    assert summary["interface"] != "lo", "the route to the server goes over the veth"
    assert [s["flags"] for s in segments] == ["SYN"] * len(segments) and len(segments) >= 2
    assert len({s["seq"] for s in segments}) == 1, "a retransmission repeats the SYN"
    assert summary["syn_retransmissions"] == len(segments) - 1
    assert 0.5 < summary["syn_backoffs_s"][0] < 2.5
    assert "firewall" in summary["reading"] and "Timed out" not in result.stdout
    assert "firewall" in result.stderr.lower()


@pytest.mark.root
def test_firewall_reset_shows_rst(net: TwoHosts) -> None:
    net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", "9001", "-j", "REJECT",
                        "--reject-with", "tcp-reset")
    result, document = _in_client(net, f"{net.server_addr}:9001", "--timeout", "2")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert [s["flags"] for s in document["segments"]] == ["SYN", "RST,ACK"]
    assert document["summary"]["outcome"] == "refused"


@pytest.mark.root
def test_reset_after_accept(net: TwoHosts) -> None:
    """The firewall lets the handshake through and answers the first data segment with a RST."""
    server = net.server.popen(sys.executable, "-c", (
        "import socket,sys; s=socket.create_server(('0.0.0.0', 9002)); print('ready', flush=True); "
        "c,_=s.accept(); c.recv(100)"))
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", "9002", "--tcp-flags", "PSH", "PSH",
                            "-j", "REJECT", "--reject-with", "tcp-reset")
        result, document = _in_client(net, f"{net.server_addr}:9002", "--message", "x", "--timeout", "2")
    finally:
        server.kill()
        server.communicate(timeout=10)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    flags = [s["flags"] for s in document["segments"]]
    assert flags[:4] == ["SYN", "SYN,ACK", "ACK", "PSH,ACK"] and "RST" in flags[4]
    assert document["summary"]["outcome"] == "reset"
    assert document["summary"]["teardown"] == "rst"


@pytest.mark.root
def test_watch_sees_a_connection_made_by_another_process() -> None:
    with running_server("--mode", "echo") as server, \
            watching(str(server.port), "--count", "1", "--iface", "lo") as watch:
            client = subprocess.run([sys.executable, "-c", (
                "import socket,sys; c=socket.create_connection(('127.0.0.1', int(sys.argv[1]))); "
                "c.sendall(b'hi\\n'); c.recv(10); c.shutdown(socket.SHUT_WR); c.recv(10); c.close()"),
                str(server.port)], timeout=30, check=True)
            assert client.returncode == 0
            watch.process.wait(timeout=20)
    out = watch.out.text()
    assert watch.process.returncode == ExitStatus.OK, watch.err.text()
    assert f"SERVER 127.0.0.1:{server.port}" in out
    assert "|--- SYN seq=0" in out and "|<-- SYN,ACK seq=0 ack=1" in out
    assert "handshake done, RTT" in out and "FIN" in out and "Reading: " in out
    assert out.count("|--- SYN seq=0") == 1, "each segment once on lo"


@pytest.mark.root
def test_watch_json_is_one_event_per_line() -> None:
    with running_server("--mode", "echo") as server, \
            watching(str(server.port), "--count", "2", "--iface", "lo", "--format", "json") as watch:
            for _ in range(2):
                with socket.create_connection(("127.0.0.1", server.port), 5) as client:
                    client.shutdown(socket.SHUT_WR)
                    client.settimeout(5)
                    while client.recv(100):
                        pass
            watch.process.wait(timeout=20)
    assert watch.process.returncode == ExitStatus.OK, watch.err.text()
    events = [json.loads(line) for line in watch.out.lines]
    assert [e["event"] for e in events] == ["opened", "ended", "opened", "ended"]
    opened, ended = events[0], events[1]
    assert [s["flags"] for s in opened["segments"]] == ["SYN", "SYN,ACK", "ACK"]
    assert opened["segments"][0]["dst"] == f"127.0.0.1:{server.port}"
    assert any("FIN" in s["flags"] for s in ended["segments"])
    assert ended["summary"]["outcome"] == "accepted" and ended["summary"]["teardown"] == "fin"
    assert events[0]["summary"]["client"] != events[2]["summary"]["client"]


@pytest.mark.root
def test_watch_shows_a_refused_connection() -> None:
    """The instructor watches the port before the server runs: each attempt is SYN, RST,ACK."""
    with socket.socket() as reserved:  # bound, not listening: refuses, and no one else can take it
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        with watching(str(port), "--count", "1", "--iface", "lo") as watch:
            with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 5):
                pass
            watch.process.wait(timeout=20)
    out = watch.out.text()
    assert watch.process.returncode == ExitStatus.OK, watch.err.text()
    assert "|--- SYN seq=0" in out and "|<-- RST,ACK seq=0 ack=1" in out
    assert "refused: the SYN was answered with RST,ACK" in out and "handshake done" not in out
    assert "Reading: 2 segments" in out


@pytest.mark.root
def test_watch_shows_a_syn_that_a_firewall_drops(private_loopback: Namespace) -> None:
    """A DROP rule in a namespace the test made: the watch shows the SYN and each retransmission."""
    port = 9003
    private_loopback.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP")
    with watching(str(port), "--iface", "lo", netns=private_loopback.name) as watch:
        attempt = private_loopback.popen(sys.executable, "-c", (
            "import socket,sys\n"
            "try: socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2.5)\n"
            "except TimeoutError: print('timed out')"), str(port))
        wait_until(lambda: "no answer yet: SYN sent 3 times" in watch.out.text(), timeout=15,
                   what="the watch to report two retransmissions (at about 1 s and 2 s)")
        out, _ = attempt.communicate(timeout=15)
        assert out.strip() == "timed out", "the client's connect was not dropped"
        watch.process.send_signal(signal.SIGINT)
        watch.process.wait(timeout=10)
    text = watch.out.text()
    assert watch.process.returncode == ExitStatus.OK, watch.err.text()
    assert text.count(f"SERVER 127.0.0.1:{port}") == 1, "one header for the attempt"
    assert "no answer yet: SYN sent 2 times" in text and "retransmission #2" in text
    assert "handshake done" not in text and "refused" not in text


@pytest.mark.root
def test_watch_skips_interfaces_that_are_down_and_says_so(private_loopback: Namespace) -> None:
    """Watching every interface: a down one (here a veth pair left down) is left out with a note, instead
    of failing the whole watch ('Network is down'); naming it with --iface says it is down."""
    port = 9004
    private_loopback.run("ip", "link", "add", "ndwa", "type", "veth", "peer", "name", "ndwb")
    with watching(str(port), "--count", "1", netns=private_loopback.name) as watch:
        assert watch.process.poll() is None, watch.err.text()
        attempt = private_loopback.run(sys.executable, "-c", (
            "import socket,sys\n"
            "try: socket.create_connection(('127.0.0.1', int(sys.argv[1])), 5)\n"
            "except ConnectionRefusedError: print('refused')"), str(port))
        assert attempt.stdout.strip() == "refused"
        watch.process.wait(timeout=20)
    err = watch.err.text()
    assert watch.process.returncode == ExitStatus.OK, err
    assert f"Watching TCP port {port} on lo:" in err
    assert "not watching ndwb, ndwa: down" in err or "not watching ndwa, ndwb: down" in err
    assert "|--- SYN seq=0" in watch.out.text()
    named = run_netdiag("handshake", "--watch", str(port), "--iface", "ndwa", "--count", "1",
                        netns=private_loopback.name, timeout=30)
    assert named.returncode == ExitStatus.USAGE and "Interface ndwa is down" in named.stderr
    assert "Traceback" not in named.stderr and "privileges" not in named.stderr


@pytest.mark.root
def test_watch_ctrl_c_exits_zero() -> None:
    with watching("9", "--iface", "lo") as watch:
        assert "Watching TCP port" in watch.err.text(), watch.err.text()
        watch.process.send_signal(signal.SIGINT)
        watch.process.wait(timeout=10)  # not communicate(): the LineReader alone reads stderr
    assert watch.process.returncode == ExitStatus.OK
    assert "Stopped: 0 connection(s)" in watch.err.text()


def test_without_capture_privileges_one_message_and_exit_3() -> None:
    """As root: drop every capability with setpriv and keep uid 0 (securebits noroot, so root regains
    none on exec): the packet socket gets the real EPERM, and the process can still read the checkout
    wherever CI cloned it. Not root: run as we are (no capability to begin with)."""
    command = [sys.executable, "-m", "netdiag", "handshake", "127.0.0.1:9"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to drop privileges")
        command = ["setpriv", "--securebits=+noroot,+noroot_locked", "--bounding-set=-all",
                   "--inh-caps=-all", "--ambient-caps=-all", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=netdiag_env(),
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == ExitStatus.NO_PRIVILEGES, result.stderr
    assert "privileges" in result.stderr and "setcap cap_net_raw,cap_net_admin=eip" in result.stderr
    assert "eip $(readlink" not in result.stderr  # never the system's python3: a confined copy, or sudo
    assert "sudo" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", [[], ["127.0.0.1:80", "--watch", "80"], ["--watch", "80", "-m", "x"],
                                  ["127.0.0.1:80", "--count", "2"], ["nonsense"],
                                  ["127.0.0.1:9", "--pcap", "/no-such-folder/x.pcap"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run_netdiag("handshake", *args)
    assert result.returncode == ExitStatus.USAGE, result.stderr
    assert "Traceback" not in result.stderr


def test_the_watch_says_what_it_forgot_in_text_and_json() -> None:
    import io
    import json

    from netdiag.cli.common import DrawingFormat as ReportFormat
    from netdiag.cli.handshake import _print_forgotten
    from netdiag.core.connection_tracker import Forgotten
    from netdiag.render.output import Output

    report = Forgotten(by_age=2, by_count=35, total=4000, pending=1000, max_age=180.0, max_pending=1000)
    text, data = io.StringIO(), io.StringIO()
    _print_forgotten(report, fmt=ReportFormat.text, out=Output(out=text, err=io.StringIO(), no_color=True))
    _print_forgotten(report, fmt=ReportFormat.json, out=Output(out=data, err=io.StringIO(), no_color=True))
    line = text.getvalue()
    assert "forgot 37 connection(s) whose handshake never completed" in line
    assert "2 unanswered for more than 180 s" in line and "35 oldest beyond the 1,000" in line
    assert "4,000 in all" in line
    assert json.loads(data.getvalue()) == {"event": "forgotten", "count": 37, "by_age": 2, "by_count": 35,
                                           "total": 4000, "pending": 1000, "max_age": 180.0,
                                           "max_pending": 1000}
