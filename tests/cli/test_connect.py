"""`netdiag connect` as users run it: against the lab's programs, every `netdiag listen` mode, and failures.

Every failure test checks the exit code, a key phrase of the explanation, and that no traceback leaks.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import NETDIAG, Result, invoke_netdiag, netdiag_env, popen_netdiag, run_netdiag
from helpers.imports import heavy_packages_loaded
from helpers.netns import Namespace, TwoHosts
from helpers.servers import running_server
from helpers.waiting import wait_until
from lab.runner import running_lab_server

from netdiag.core.exit_status import ExitStatus


def connect(*args: str, input: str | None = None, netns: str | None = None) -> Result:
    """``netdiag connect ARGS``: in this process, or in a child inside the namespace ``netns``."""
    if netns is None:
        result = invoke_netdiag("connect", *args, input=input)
    else:
        result = Result.of(run_netdiag("connect", *args, input=input, netns=netns, timeout=30))
    assert "Traceback" not in result.stderr, result.stderr
    return result


# --- the lab's own servers -------------------------------------------------------------------------------


def test_reply_server_answers_each_message_and_closes_on_close() -> None:
    with running_lab_server("reply_server") as server:
        result = connect(server.address, "-m", "hello", "-m", "close")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["accepted", "closed"]
        # sent as the lab's clients send: no newline, so the server printed the bare message
        server.wait_for_line(lambda line: line.endswith(": hello"))


def test_messages_after_the_server_closed_are_named_and_exit_1() -> None:
    with running_lab_server("reply_server") as server:
        result = connect(server.address, "-m", "close", "-m", "later")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert result.stdout.splitlines() == ["closed"]
    assert "closed the connection before 1 message(s) could be sent ('later')" in result.stderr


def test_greeting_server_greeting_is_printed_and_the_message_delivered() -> None:
    with running_lab_server("greeting_server") as server:
        result = connect(server.address, "-m", "hi from netdiag")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["You are connected"]
        server.wait_for_line("Received: hi from netdiag")


def test_echo_server_returns_a_large_message_whole() -> None:
    message = "0123456789" * 10_000
    with running_lab_server("echo_server") as server:
        result = connect(server.address, "-m", message)
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.stdout == message + "\n"


def test_interactive_lines_are_sent_and_eof_ends_cleanly() -> None:
    with running_lab_server("echo_server") as server:
        result = connect(server.address, input="first line\nsecond line\n")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert "first line" in result.stdout and "second line" in result.stdout
    assert "Connection closed by the server." in result.stderr


def test_udp_echo_server_echoes_each_datagram() -> None:
    with running_lab_server("udp_echo_server") as server:
        result = connect(server.address, "--udp", "-m", "ping", "-m", "pong", "-v")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines() == ["ping", "pong"]
    assert "timings: name resolution" in result.stderr and "first reply" in result.stderr


def test_verbose_shows_attempts_and_timings() -> None:
    with running_lab_server("reply_server") as server:
        result = connect(f"localhost:{server.port}", "-m", "x", "-v")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert f"connected on 127.0.0.1:{server.port}" in result.stderr
    assert "TCP connect" in result.stderr and "first reply" in result.stderr


# --- every netdiag listen mode ---------------------------------------------------------------------------


def test_listen_reply_mode(engine: str) -> None:
    with running_server("--mode", "reply", "--engine", engine) as server:
        result = connect(f"127.0.0.1:{server.port}", "-m", "hello", "-m", " CLOSE\r\n")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["accepted", "closed"]
        server.wait_for_event("recv", text="hello")


def test_listen_greet_mode() -> None:
    with running_server("--mode", "greet") as server:
        result = connect(f"127.0.0.1:{server.port}", "-m", "hi")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["You are connected"]
        server.wait_for_event("recv", text="hi")


def test_listen_echo_mode_with_lines() -> None:
    with running_server("--mode", "echo") as server:
        result = connect(f"127.0.0.1:{server.port}", "--newline", "crlf", "-m", "one", "-m", "two")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines() == ["one", "two"]


def test_listen_sink_mode_needs_no_wait() -> None:
    with running_server("--mode", "sink") as server:
        result = connect(f"127.0.0.1:{server.port}", "--no-wait", "-m", "into the sink")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout == ""
        server.wait_for_event("recv", text="into the sink")


def test_listen_udp_echo_and_sink() -> None:
    with running_server("--udp", "--mode", "echo") as server:
        result = connect(f"127.0.0.1:{server.port}", "--udp", "-m", "datagram")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert result.stdout.splitlines() == ["datagram"]
    with running_server("--udp", "--mode", "sink") as server:
        result = connect(f"127.0.0.1:{server.port}", "--udp", "-m", "heard?", "--timeout", "0.3")
        server.wait_for_event("datagram", text="heard?")
    # bound on this host (socket table): received, nothing sent back, which is no failure for UDP
    assert result.returncode == ExitStatus.OK, result.stderr
    assert (f"The server received the 1 datagram(s) and sent nothing back: UDP socket bound to "
            f"127.0.0.1:{server.port}") in result.stderr
    assert "No reply to" not in result.stderr


def test_udp_sink_in_json_is_received_silently_and_ok() -> None:
    with running_server("--udp", "--mode", "sink") as server:
        result = connect(f"127.0.0.1:{server.port}", "--udp", "-m", "a", "-m", "b", "--timeout", "0.3",
                         "--format", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    silent = next(r for r in records if r["event"] == "received-silently")
    assert silent["datagrams"] == 2 and f"127.0.0.1:{server.port}" in silent["detail"]
    assert records[-1]["event"] == "done" and records[-1]["ok"] is True


@pytest.mark.root
def test_udp_sink_behind_a_drop_rule_of_this_host_is_still_a_failure(private_loopback: Namespace) -> None:
    with running_server("--udp", "--mode", "sink", netns=private_loopback.name) as server:
        private_loopback.iptables("-A", "INPUT", "-p", "udp", "--dport", str(server.port), "-j", "DROP")
        result = connect(f"127.0.0.1:{server.port}", "--udp", "-m", "x", "--timeout", "0.3",
                         netns=private_loopback.name)
        assert not server.of("datagram")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "No reply to 1 datagram(s)" in result.stderr and "received the" not in result.stderr


class InteractiveClient:
    """A ``netdiag connect`` process fed line by line, its stdout collected by a reader thread."""

    def __init__(self, address: str) -> None:
        self.process = popen_netdiag("connect", address, "--timeout", "2")
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, text: str) -> str:
        return wait_until(lambda: next((x for x in list(self.lines) if text in x), None), timeout=10,
                          what=f"a client line with {text!r}; got {self.lines}")

    def finish(self, *, close_stdin: bool = True) -> tuple[int, str]:
        """Wait for the client to end (after EOF on its stdin, unless ``close_stdin`` is False)."""
        assert self.process.stdin is not None and self.process.stderr is not None
        if close_stdin:
            self.process.stdin.close()
        code = self.process.wait(timeout=15)
        self.process.stdin.close()
        self.reader.join(timeout=5)
        stderr = self.process.stderr.read()
        self.process.stderr.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code, stderr


def test_chat_between_two_interactive_clients() -> None:
    with running_server("--mode", "chat") as server:
        alice = InteractiveClient(f"127.0.0.1:{server.port}")
        bob = InteractiveClient(f"127.0.0.1:{server.port}")
        alice.wait_for("welcome")
        bob.wait_for("welcome")
        alice.send("/nick alice")
        alice.wait_for("alice")
        alice.send("hello bob")
        assert "alice" in bob.wait_for("hello bob")
        bob.send("hi alice")
        alice.wait_for("hi alice")
        for client in (alice, bob):
            code, stderr = client.finish()
            assert code == ExitStatus.OK, stderr
            assert "Traceback" not in stderr


# --- failures --------------------------------------------------------------------------------------------


def test_verbose_failure_lists_each_attempt() -> None:
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = connect(f"127.0.0.1:{port}", "-m", "x", "-v")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert f"refused on 127.0.0.1:{port} in " in result.stderr


def test_refused_explains_nothing_listening() -> None:
    with socket.socket() as reserved:  # bound, not listening: refused, and no one else can take the port
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = connect(f"127.0.0.1:{port}", "-m", "x")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "Connection refused" in result.stderr and "nothing is listening" in result.stderr
    assert f"netdiag sockets --listening --port {port}" in result.stderr


def test_name_not_resolved() -> None:
    result = connect("no-such-host.invalid:80", "-m", "x")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "Cannot resolve 'no-such-host.invalid'" in result.stderr
    assert "No connection was attempted" in result.stderr


@contextmanager
def aborting_server() -> Iterator[str]:
    """A loopback server that reads the first message, then aborts the connection with a RST."""
    server = socket.create_server(("127.0.0.1", 0))

    def accept_then_abort() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # linger 0: RST instead of FIN

    worker = threading.Thread(target=accept_then_abort, daemon=True)
    worker.start()
    with server:
        yield f"127.0.0.1:{server.getsockname()[1]}"
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_reset_by_the_server() -> None:
    with aborting_server() as address:
        result = connect(address, "-m", "x")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "Connection reset by 127.0.0.1" in result.stderr
    assert "aborted the connection with a TCP RST" in result.stderr


def test_no_reply_suggests_a_newline() -> None:
    with running_server("--mode", "sink") as server:
        result = connect(f"127.0.0.1:{server.port}", "-m", "anyone?", "--timeout", "0.3")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "No reply to 1 message(s)" in result.stderr and "--newline lf" in result.stderr


@pytest.mark.parametrize("args", [["nohostport"], ["127.0.0.1:99999"], ["127.0.0.1:80", "-4", "-6"],
                                  ["127.0.0.1:80", "--crlf", "--newline", "lf"], ["127.0.0.1:80", "-6"],
                                  ["[::1]:80", "-4"], ["127.0.0.1:80", "--format", "csv"],
                                  ["127.0.0.1:80", "-m", "x", "-m", ""]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = connect(*args)
    assert result.returncode == ExitStatus.USAGE, result.stderr


def test_connect_imports_no_pydantic_scapy_psutil_or_tabulate() -> None:
    """A client starts fast: typer's pydantic coercion is skipped (plain_coercion), no heavy adapters."""
    with running_lab_server("echo_server") as server:
        result = heavy_packages_loaded(["connect", server.address, "-m", "x", "-t", "5", "-n", "lf",
                                        "-f", "json"])
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.heavy == []


def test_help_documents_exit_codes_and_examples() -> None:
    result = invoke_netdiag("connect", "--help")
    assert result.returncode == ExitStatus.OK
    assert "Exit codes: 0" in result.stdout and "1 the network said no" in result.stdout
    assert "netdiag connect 127.0.0.1:8000 --message hello" in result.stdout


@pytest.mark.root
def test_timeout_behind_a_dropping_firewall(net: TwoHosts) -> None:
    net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "DROP")
    result = connect(f"{net.server_addr}:9", "-m", "x", "--timeout", "0.5", netns=net.client.name)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "timed out on" in result.stderr and "after 0.5 s" in result.stderr
    assert "Blocked by a firewall (dropped)" in result.stderr  # the host answered ARP: explain's verdict


# Each firewall action (or missing route) seen by a client in its own namespace: the failure it names.
# (side, iptables rule or None, target host: "server" or a literal, extra args, phrases expected on stderr)
FAILURE_KINDS = [
    pytest.param("server", ["INPUT", "-p", "tcp", "--dport", "9", "-j", "REJECT", "--reject-with",
                            "icmp-host-unreachable"], "server", [],
                 ["Cannot reach", "host unreachable"], id="icmp-host-unreachable"),
    pytest.param("server", ["INPUT", "-p", "tcp", "--dport", "9", "-j", "REJECT", "--reject-with",
                            "tcp-reset"], "server", [],
                 ["Connection refused", "firewall rule that rejects with a TCP reset"], id="tcp-reset"),
    pytest.param("server", ["INPUT", "-p", "udp", "--dport", "9", "-j", "DROP"], "server", ["--udp"],
                 ["No reply to 1 datagram(s)", "a firewall drops the datagrams"], id="udp-dropped"),
    pytest.param("client", ["OUTPUT", "-p", "udp", "--dport", "9", "-j", "DROP"], "server", ["--udp"],
                 ["blocked on this machine", "OUTPUT"], id="udp-blocked-locally"),
    pytest.param("client", None, "198.19.0.1", [], ["network unreachable (no route)", "ip route"],
                 id="no-route"),
]


@pytest.mark.root
@pytest.mark.parametrize(("side", "rule", "host", "extra", "phrases"), FAILURE_KINDS)
def test_each_failure_kind_is_named_and_explained(net: TwoHosts, side: str, rule: list[str] | None,
                                                   host: str, extra: list[str], phrases: list[str]) -> None:
    if rule is not None:
        (net.server if side == "server" else net.client).iptables("-A", *rule)
    address = net.server_addr if host == "server" else host
    result = connect(f"{address}:9", "-m", "x", "--timeout", "0.5", *extra, netns=net.client.name)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr


@pytest.mark.root
def test_udp_port_unreachable(private_loopback: Namespace) -> None:
    result = connect("127.0.0.1:9", "--udp", "-m", "ping", netns=private_loopback.name)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "UDP port unreachable" in result.stderr and "ICMP port-unreachable" in result.stderr


@contextmanager
def hosts_file(ns: Namespace, text: str) -> Iterator[None]:
    """``ip netns exec`` bind-mounts /etc/netns/NAME/hosts over /etc/hosts inside that namespace."""
    folder = Path("/etc/netns") / ns.name
    folder.mkdir(parents=True)
    (folder / "hosts").write_text(text)
    try:
        yield
    finally:
        shutil.rmtree(folder)
        with contextlib.suppress(OSError):  # another test's namespace folder is still there
            Path("/etc/netns").rmdir()


@pytest.mark.root
def test_every_address_is_tried_and_each_outcome_reported(private_loopback: Namespace) -> None:
    """A name on ::1 and 127.0.0.1, a server on 127.0.0.1 only: refused on ::1, connected on 127.0.0.1."""
    with hosts_file(private_loopback, "::1 both.test\n127.0.0.1 both.test\n"), \
            running_lab_server("echo_server", port=0,
                               argv_prefix=["ip", "netns", "exec", private_loopback.name]) as server:
        result = connect(f"both.test:{server.port}", "-m", "x", "-v", netns=private_loopback.name)
        assert result.returncode == ExitStatus.OK, result.stderr
        assert f"refused on [::1]:{server.port}" in result.stderr
        assert f"connected on 127.0.0.1:{server.port}" in result.stderr
        both_refused = connect(f"both.test:{server.port + 1}", "-m", "x", netns=private_loopback.name)
    assert both_refused.returncode == ExitStatus.NETWORK_SAID_NO
    closed = server.port + 1
    assert f"refused on [::1]:{closed}, refused on 127.0.0.1:{closed}" in both_refused.stderr


@pytest.mark.root
def test_ipv6_address_on_a_host_without_ipv6(private_loopback: Namespace) -> None:
    """IPv6 turned off (common in containers): connecting to ::1 cannot even pick a source address."""
    private_loopback.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    private_loopback.run("sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=1")
    result = connect("[::1]:9", "-m", "x", netns=private_loopback.name)
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "no source address" in result.stderr and "IPv6" in result.stderr


def test_interactive_session_ends_when_the_server_closes_while_stdin_stays_open() -> None:
    with running_lab_server("greeting_server") as server:
        client = InteractiveClient(server.address)
        client.wait_for("You are connected")
        client.send("hello")
        server.wait_for_line("Received: hello")
        assert client.process.wait(timeout=10) == ExitStatus.OK  # stdin still open: the server ended it
        code, stderr = client.finish()
    assert code == ExitStatus.OK
    assert "Connection closed by the server." in stderr
    assert "Fatal Python error" not in stderr and "Traceback" not in stderr


def test_interactive_with_stdin_closed_sends_nothing_and_ends_cleanly() -> None:
    with running_lab_server("greeting_server") as server:
        result = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *NETDIAG, "connect", server.address,
                                 "--timeout", "5"], capture_output=True, text=True, timeout=30,
                                env=netdiag_env())
    assert result.returncode == ExitStatus.OK, result.stderr
    assert result.stdout == "You are connected\n"
    assert "Traceback" not in result.stderr


def test_interactive_udp_lines_are_datagrams() -> None:
    with running_lab_server("udp_echo_server") as server:
        result = connect(server.address, "--udp", "--newline", "none", input="one\ntwo\n")
        assert result.returncode == ExitStatus.OK, result.stderr
        server.wait_for_line(lambda line: line.endswith(": two"))  # sent without a newline
    assert result.stdout.splitlines() == ["one", "two"]


def test_ctrl_c_exits_130_without_traceback() -> None:
    with running_lab_server("echo_server") as server:
        client = InteractiveClient(server.address)
        client.send("ping")
        client.wait_for("ping")
        client.process.send_signal(signal.SIGINT)
        code, stderr = client.finish(close_stdin=False)  # EOF must not be what ends it
    assert code == ExitStatus.INTERRUPTED
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("data", "shown"), [
    (b"accepted", "accepted"),
    (b"line one\r\nline two\r\n", "line one\nline two"),
    (b"\x1b[2J\x1b]0;pwned\x07red", "\\x1b[2J\\x1b]0;pwned\\x07red"),
    (b"caf\xc3\xa9 \xff\x00", "caf\u00e9 \\xff\\x00"),
])
def test_replies_are_printed_as_safe_text(data: bytes, shown: str) -> None:
    from netdiag.render.connect_view import reply_text

    assert reply_text(data) == shown


# --- --format json ---------------------------------------------------------------------------------------


def json_records(result: Result) -> list[dict[str, Any]]:
    """Every stdout line parsed: --format json prints nothing else there."""
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(isinstance(r.get("time"), float) for r in records), records
    return records


def test_json_reports_the_session_as_events() -> None:
    with running_lab_server("reply_server") as server:
        result = connect(server.address, "-m", "hello", "-m", "close", "--format", "json")
    assert result.returncode == ExitStatus.OK, result.stderr
    records = json_records(result)
    connected, done = records[0], records[-1]
    assert connected["event"] == "connected" and connected["proto"] == "tcp"
    assert connected["peer"] == server.address
    assert [a["outcome"] for a in connected["attempts"]] == ["connected"]
    talk = [(r["event"], r.get("text")) for r in records if r["event"] in ("sent", "reply")]
    assert talk == [("sent", "hello"), ("reply", "accepted"), ("sent", "close"), ("reply", "closed")]
    assert {"event": "close", "by": "server"}.items() <= records[-2].items()
    assert done["event"] == "done" and done["ok"] is True and done["problems"] == []
    assert isinstance(done["first_reply_ms"], float)


def test_json_with_verbose_keeps_stdout_pure_json_and_timings_on_stderr() -> None:
    with running_lab_server("echo_server") as server:
        result = connect(server.address, "-m", "ping", "-f", "json", "-v")
    assert result.returncode == ExitStatus.OK, result.stderr
    assert [r["text"] for r in json_records(result) if r["event"] == "reply"] == ["ping"]
    assert f"connected on {server.address}" in result.stderr and "timings:" in result.stderr


def test_json_interactive_session_reports_each_line_and_the_end() -> None:
    with running_server("--mode", "echo") as server:
        result = connect(f"127.0.0.1:{server.port}", "-f", "json", "--newline", "lf", input="one\ntwo\n")
    assert result.returncode == ExitStatus.OK, result.stderr
    records = json_records(result)
    assert [r["text"] for r in records if r["event"] == "sent"] == ["one\\n", "two\\n"]
    assert "".join(r["text"] for r in records if r["event"] == "reply") == "one\\ntwo\\n"
    events = [r["event"] for r in records]
    assert events[0] == "connected" and "half-close" in events and events[-2:] == ["close", "done"]


def test_json_interactive_default_newline_is_an_event() -> None:
    """The echo answers 'one' sent without its newline: later lines go without it too, and JSON says so."""
    with running_server("--mode", "echo") as server:
        result = connect(f"127.0.0.1:{server.port}", "-f", "json", input="one\ntwo\n")
    assert result.returncode == ExitStatus.OK, result.stderr
    records = json_records(result)
    assert [r["text"] for r in records if r["event"] == "sent"] == ["one", "two"]
    assert {"event": "line-ending", "newline": False}.items() <= next(
        r for r in records if r["event"] == "line-ending").items()


def test_json_no_reply_is_an_event_and_the_run_fails() -> None:
    with running_server("--mode", "sink") as server:
        result = connect(f"127.0.0.1:{server.port}", "-m", "anyone?", "--timeout", "0.3", "-f", "json")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    records = json_records(result)
    no_reply = next(r for r in records if r["event"] == "no-reply")
    assert no_reply["text"] == "anyone?" and no_reply["timeout"] == 0.3
    assert records[-1]["event"] == "done" and records[-1]["ok"] is False
    assert "No reply to 1 message(s)" in str(records[-1]["problems"])
    assert "No reply to 1 message(s)" in result.stderr


def test_json_refused_is_one_error_record() -> None:
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = connect(f"127.0.0.1:{port}", "-m", "x", "--format", "json")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    [error] = json_records(result)
    assert error["event"] == "error" and error["cause"] == "nothing-listening"
    [attempt] = error["attempts"]
    assert attempt["address"] == f"127.0.0.1:{port}" and attempt["outcome"] == "refused"
    assert attempt["cause"] == "nothing-listening" and isinstance(attempt["ms"], float)
    assert "Connection refused" in result.stderr


def test_json_reset_during_the_session_ends_with_an_error_record() -> None:
    with aborting_server() as address:
        result = connect(address, "-m", "x", "-f", "json")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    records = json_records(result)
    assert records[0]["event"] == "connected"
    assert records[-1]["event"] == "error" and records[-1]["cause"] == "connection-reset"


def test_json_name_not_resolved() -> None:
    result = connect("no-such-host.invalid:80", "-m", "x", "-f", "json")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    [error] = json_records(result)
    assert error["event"] == "error" and error["cause"] == "dns-failure" and error["attempts"] == []
    assert "Cannot resolve 'no-such-host.invalid'" in str(error["message"])
