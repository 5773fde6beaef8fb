"""``netdiag explain`` as users run it: pasted errors, and real sockets on loopback for each local cause.

The sockets are real and made by the test: a listening socket is "open"; a socket bound but not listening
keeps its port reserved and answers connect() with a refusal (STYLE.md), so no other program can take the
port while the test looks at it.
"""

from __future__ import annotations

import json
import re
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from helpers.cli import invoke_netdiag, run_netdiag
from helpers.netns import Namespace, TwoHosts
from helpers.servers import running_server

from netdiag.core.catalog import Cause
from netdiag.core.exit_status import ExitStatus


def explain_json(*args: str) -> tuple[dict[str, object], int]:
    result = invoke_netdiag("explain", *args, "--format", "json")
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout), result.returncode


@contextmanager
def sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def tcp(stack: ExitStack, host: str, port: int = 0, *, listen: bool) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(8)
    return int(sock.getsockname()[1])


def udp(stack: ExitStack, host: str, port: int = 0) -> int:
    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    sock.bind((host, port))
    return int(sock.getsockname()[1])


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# --- explain --error ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "cause", "phrase"), [
    ("ConnectionRefusedError: [Errno 111] Connection refused", Cause.NOTHING_LISTENING, "Linux"),
    ("[WinError 10061] No connection could be made because the target machine actively refused it",
     Cause.NOTHING_LISTENING, "WSAECONNREFUSED"),
    ("socket.gaierror: [Errno -2] Name or service not known", Cause.DNS_FAILURE, "EAI_NONAME"),
    ("OSError: [Errno 98] Address already in use", Cause.ADDRESS_IN_USE, "SO_REUSEADDR"),
    ("OSError: [WinError 10013] An attempt was made to access a socket in a way forbidden by its access "
     "permissions", Cause.PORT_RESERVED, "excludedportrange"),
    ("TimeoutError: timed out", Cause.TIMEOUT, "absent"),
    ("TypeError: a bytes-like object is required, not 'str'", Cause.STR_NOT_BYTES, "message.encode()"),
    ("OSError: [Errno 107] Transport endpoint is not connected", Cause.NOT_CONNECTED, "conn.recv()"),
    ("bash: ./server.py: Permission denied", Cause.FILE_PERMISSION, "python3 server.py"),
    ("System.Net.Sockets.SocketException (10061): No connection could be made because the target machine "
     "actively refused it.", Cause.NOTHING_LISTENING, "WSAECONNREFUSED"),
])
def test_error_text(text: str, cause: Cause, phrase: str) -> None:
    result = invoke_netdiag("explain", "--error", text)
    assert result.returncode == ExitStatus.OK, result.stderr
    assert f"[cause: {cause.value}]" in result.stdout
    assert phrase in result.stdout
    assert "How to fix it:" in result.stdout


def test_error_json_schema() -> None:
    report, code = explain_json("--error", "ConnectionRefusedError: [Errno 111] Connection refused")
    assert code == ExitStatus.OK
    assert set(report) >= {"input", "cause", "recognised", "title", "meaning", "likely_causes", "fixes",
                           "clues", "platform", "operation", "port", "readings", "notes"}
    assert report["cause"] == "nothing-listening" and report["platform"] == "linux"
    assert report["readings"] == [{"platform": "linux", "kind": "errno", "number": 111,
                                   "symbol": "ECONNREFUSED", "message": "Connection refused",
                                   "cause": "nothing-listening"}]


def test_bare_number_names_each_platform_and_platform_option_narrows() -> None:
    both = invoke_netdiag("explain", "--error", "13").stdout
    assert "Linux" in both and "macOS" in both and "Windows" in both and "--platform" in both
    report, _ = explain_json("--error", "13", "--platform", "windows")
    assert report["cause"] == "port-reserved"
    assert [r["platform"] for r in report["readings"]] == ["windows"]


def test_unknown_text_says_so_and_exits_1() -> None:
    result = invoke_netdiag("explain", "--error", "the printer is on fire")
    assert result.returncode == ExitStatus.NETWORK_SAID_NO
    assert "[cause: unknown]" in result.stdout and "no error it knows" in result.stdout


def test_error_from_stdin() -> None:
    traceback = ('Traceback (most recent call last):\n  File "client.py", line 4, in <module>\n'
                 "    s.connect(('127.0.0.1', 8000))\n"
                 "ConnectionRefusedError: [Errno 111] Connection refused\n")
    result = invoke_netdiag("explain", "--error", "-", "--format", "json", input=traceback)
    report = json.loads(result.stdout)
    assert report["cause"] == "nothing-listening"
    assert (report["operation"], report["port"]) == ("connect", 8000)


@pytest.mark.parametrize("args", [
    (), ("127.0.0.1:1", "--error", "111"), ("127.0.0.1",), ("127.0.0.1:99999",),
    ("127.0.0.1:80", "--platform", "linux"), ("--error", "  "),
])
def test_usage_errors_exit_2_without_traceback(args: tuple[str, ...]) -> None:
    result = invoke_netdiag("explain", *args)
    assert result.returncode == ExitStatus.USAGE, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


# --- explain TARGET on real loopback sockets ---------------------------------------------------------------


def test_open_port_is_ok_with_a_full_checklist() -> None:
    with sockets() as stack:
        port = tcp(stack, "127.0.0.1", listen=True)
        result = invoke_netdiag("explain", f"127.0.0.1:{port}")
    assert result.returncode == ExitStatus.OK, result.stdout
    lines = result.stdout.splitlines()
    assert any(line.strip().startswith("[ ok ] name") for line in lines)
    assert any("[ ok ] connect" in line and "open on 127.0.0.1" in line for line in lines)
    assert any("[ ok ] listeners" in line and f"127.0.0.1:{port}" in line for line in lines)
    assert "[cause: ok]" in result.stdout


def test_the_unspecified_address_is_diagnosed_as_this_machine() -> None:
    """Students copy `0.0.0.0:PORT` from a server's log: Linux connects that to 127.0.0.1, and says so."""
    with sockets() as stack:
        port = tcp(stack, "127.0.0.1", listen=True)
        report, code = explain_json(f"0.0.0.0:{port}")
    assert (report["cause"], code) == ("ok", ExitStatus.OK)
    steps = {step["name"]: step for step in report["steps"]}  # type: ignore[union-attr]
    assert steps["resolve"]["status"] == "warning" and "a server binds" in steps["resolve"]["summary"]
    assert steps["listeners"]["status"] == "ok", "0.0.0.0 is this machine: its listeners are read"


def test_refused_port_is_nothing_listening() -> None:
    with sockets() as stack:
        port = tcp(stack, "127.0.0.1", listen=False)
        report, code = explain_json(f"127.0.0.1:{port}")
        connected, _ = explain_json(f"127.0.0.1:{port}", "--connect")
    assert code == ExitStatus.NETWORK_SAID_NO
    assert report["cause"] == "nothing-listening"
    assert report["attempts"][0]["reason"] == "no-listener"  # read from the socket table: nothing sent
    assert any(f"netdiag listen 127.0.0.1:{port}" in fix for fix in report["fixes"])  # type: ignore[union-attr]
    assert (connected["cause"], connected["attempts"][0]["reason"]) == ("nothing-listening", "conn-refused")


def near_pair(stack: ExitStack) -> tuple[int, int]:
    """(listener, target): a listening port and, ten ports away, a port bound but not listening (it refuses
    and stays ours).

    The target comes from the kernel's bind(0), which hands out ports of one parity while connect() takes
    the other; the listener ten away shares the target's parity, so the thousands of client ports and
    TIME_WAIT entries left by earlier tests rarely stand in the way. When one does, try another target.
    """
    for _ in range(20):
        with ExitStack() as attempt:
            target = tcp(attempt, "127.0.0.1", listen=False)
            for offset in (10, -10):
                try:
                    listener = tcp(attempt, "127.0.0.1", target + offset, listen=True)
                except OSError:
                    continue
                stack.enter_context(attempt.pop_all())
                return listener, target
    pytest.fail("20 kernel-chosen ports all had both neighbours ten away taken")


def test_listener_on_a_near_port() -> None:
    with sockets() as stack:
        port, target = near_pair(stack)
        report, _ = explain_json(f"127.0.0.1:{target}")
    assert report["cause"] == "near-port", report["verdict"]
    assert str(port) in str(report["verdict"])
    assert report["fixes"][0] == f"Use port {port}: netdiag connect 127.0.0.1:{port}"  # type: ignore[index]


def udp_with_refusing_tcp_twin(stack: ExitStack) -> int:
    """A UDP socket on port P and, on the same TCP port, a socket bound but not listening (refuses)."""
    for _ in range(20):
        with ExitStack() as attempt:
            port = udp(attempt, "127.0.0.1")
            try:
                tcp(attempt, "127.0.0.1", port, listen=False)
            except OSError:
                continue
            stack.enter_context(attempt.pop_all())
            return port
    pytest.fail("20 kernel-chosen UDP ports all had their TCP twin taken")


def test_udp_server_when_tcp_is_asked() -> None:
    with sockets() as stack:
        port = udp_with_refusing_tcp_twin(stack)
        report, _ = explain_json(f"127.0.0.1:{port}", "--timeout", "0.5")
    assert report["cause"] == "protocol-mismatch", report["verdict"]
    assert f"netdiag explain 127.0.0.1:{port} --udp" in report["fixes"][0]  # type: ignore[index]


def test_udp_listener_that_stays_silent_is_ok_and_a_closed_udp_port_is_not() -> None:
    with sockets() as stack:
        port = udp(stack, "127.0.0.1")
        report, code = explain_json(f"127.0.0.1:{port}", "--udp", "--timeout", "0.3")
        assert (report["cause"], code) == ("ok", ExitStatus.OK)
        assert "A UDP socket is bound there" in report["verdict"]
        assert report["attempts"][0]["method"] == "socket-table"
    with sockets() as stack:
        holder = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        holder.bind(("127.0.0.1", 0))  # a port number nobody uses for UDP right now, very likely
        port = holder.getsockname()[1]
        report, _ = explain_json(f"127.0.0.1:{port}", "--udp", "--timeout", "0.3")
    assert report["cause"] in ("nothing-listening", "protocol-mismatch")
    assert report["attempts"][0]["reason"] == "no-listener"  # this host: read from the socket table


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 on loopback here")
def test_ipv6_only_listener_and_ipv4_client_is_wrong_address_family() -> None:
    with sockets() as stack:
        port = tcp(stack, "::1", listen=True)
        try:
            tcp(stack, "127.0.0.1", port, listen=False)
        except OSError:
            pytest.skip(f"127.0.0.1:{port} is taken by another program")
        report, _ = explain_json(f"127.0.0.1:{port}")
    assert report["cause"] == "wrong-address-family", report["verdict"]
    assert any(f"[::1]:{port}" in fix for fix in report["fixes"])  # type: ignore[union-attr]


_DUAL_STACK = """
import socket, sys
v4 = socket.socket(); v4.bind(("127.0.0.1", 0)); v4.listen(8)
port = v4.getsockname()[1]
v6 = socket.socket(socket.AF_INET6); v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
v6.bind(("::1", port))  # bound, not listening: refused
print(port, flush=True)
sys.stdin.read()
"""


@pytest.mark.root
def test_every_address_is_tried_and_kept(private_loopback: Namespace) -> None:
    """localhost -> ::1 and 127.0.0.1: refused on one, open on the other; both kept, verdict ok + warning."""
    hosts = Path("/etc/netns") / private_loopback.name / "hosts"
    hosts.parent.mkdir(parents=True, exist_ok=True)
    hosts.write_text("::1 localhost\n127.0.0.1 localhost\n")
    server = private_loopback.popen(sys.executable, "-c", _DUAL_STACK, stdin=subprocess.PIPE)
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 15)
        port = int(server.stdout.readline()) if ready else 0
        assert port, "the dual-stack server did not start"
        result = run_netdiag("explain", f"localhost:{port}", "--format", "json", netns=private_loopback.name)
    finally:
        server.kill()
        server.communicate(timeout=10)
        shutil.rmtree(hosts.parent, ignore_errors=True)
    report = json.loads(result.stdout)
    assert {a["address"]: a["state"] for a in report["attempts"]} == {"::1": "closed", "127.0.0.1": "open"}
    assert (report["cause"], result.returncode) == ("ok", ExitStatus.OK)
    connect = next(s for s in report["steps"] if s["name"] == "connect")
    assert connect["status"] == "warning"


_TCP_ONLY = """
import socket, sys
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(8)
print(server.getsockname()[1], flush=True)
sys.stdin.read()
"""


@pytest.mark.root
def test_tcp_server_when_udp_is_asked_is_protocol_mismatch(private_loopback: Namespace) -> None:
    """In a private namespace nothing else can hold the UDP port: the only listener is the TCP one."""
    server = private_loopback.popen(sys.executable, "-c", _TCP_ONLY, stdin=subprocess.PIPE)
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 15)
        port = int(server.stdout.readline()) if ready else 0
        assert port, "the TCP server did not start"
        result = run_netdiag("explain", f"127.0.0.1:{port}", "--udp", "--timeout", "0.5", "--format", "json",
                             netns=private_loopback.name)
    finally:
        server.kill()
        server.communicate(timeout=10)
    report = json.loads(result.stdout)
    assert (report["cause"], result.returncode) == ("protocol-mismatch", ExitStatus.NETWORK_SAID_NO), report
    assert report["attempts"][0]["reason"] == "no-listener"
    assert f"netdiag explain 127.0.0.1:{port}" in report["fixes"][0]


# --- the catalog's advice names commands and options that exist ----------------------------------------


def test_every_netdiag_command_in_the_catalog_exists_with_its_options() -> None:
    """A fix that says `netdiag sockets --listening --port PORT` must work when the user types it."""
    import re

    import typer

    from netdiag.cli.main import app
    from netdiag.core.catalog import CATALOG

    root = typer.main.get_command(app)
    texts = [text for entry in CATALOG.values() for text in (*entry.fixes, *entry.likely_causes)]
    mentioned = [m for text in texts for m in re.findall(r"netdiag (\w+)((?: --?[\w-]+(?: [A-Z0-9.:]+)?)*)",
                                                           text)]
    assert mentioned, "the catalog mentions no netdiag command at all"
    for name, flags in mentioned:
        command = root.commands.get(name)  # type: ignore[attr-defined]
        assert command is not None, f"the catalog mentions 'netdiag {name}', which does not exist"
        known = {opt for param in command.params for opt in getattr(param, "opts", [])}
        for flag in re.findall(r"--?[\w-]+", flags):
            assert flag in known, f"the catalog mentions 'netdiag {name} {flag}', an unknown option"


@pytest.mark.root
def test_without_capabilities_the_firewall_step_says_it_needs_root() -> None:
    """Root with an empty capability set cannot read iptables/nft: the checklist says so, no traceback."""
    from helpers.cli import NETDIAG, netdiag_env

    with sockets() as stack:
        port = tcp(stack, "127.0.0.1", listen=False)
        done = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all", *NETDIAG, "explain",
                               f"127.0.0.1:{port}", "--format", "json"],
                              capture_output=True, text=True, timeout=60, env=netdiag_env())
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    firewall = next(s for s in report["steps"] if s["name"] == "firewall")
    assert (firewall["status"], report["cause"]) == ("warning", "nothing-listening")
    assert "needs root" in firewall["summary"]


# --- listen and connect speak with the catalog's words ---------------------------------------------------


def test_connect_and_explain_error_give_the_same_explanation_of_a_refusal() -> None:
    """A refused `netdiag connect` and a pasted ConnectionRefusedError are read by the same engine."""
    from netdiag.core.catalog import explanation_for

    with sockets() as stack:
        port = tcp(stack, "127.0.0.1", listen=False)
        live = invoke_netdiag("connect", f"127.0.0.1:{port}", "--timeout", "5")
    pasted, code = explain_json("--error", "ConnectionRefusedError: [Errno 111] Connection refused")
    assert (live.returncode, code) == (ExitStatus.NETWORK_SAID_NO, ExitStatus.OK)
    assert pasted["cause"] == Cause.NOTHING_LISTENING.value
    meaning = explanation_for(Cause.NOTHING_LISTENING).meaning
    assert meaning in live.stderr and pasted["meaning"] == meaning
    assert f"netdiag sockets --listening --port {port}" in live.stderr


def test_listen_and_explain_error_give_the_same_explanation_of_a_busy_port() -> None:
    from netdiag.core.catalog import explanation_for

    with sockets() as stack:
        port = tcp(stack, "127.0.0.1", listen=True)
        live = invoke_netdiag("listen", f"127.0.0.1:{port}")  # the bind fails: nothing is served
    pasted, code = explain_json("--error", "OSError: [Errno 98] Address already in use")
    assert (live.returncode, code) == (ExitStatus.NETWORK_SAID_NO, ExitStatus.OK)
    assert pasted["cause"] == Cause.ADDRESS_IN_USE.value
    meaning = explanation_for(Cause.ADDRESS_IN_USE).meaning
    assert meaning in live.stderr and pasted["meaning"] == meaning
    assert "SO_REUSEADDR" in live.stderr
    assert f"netdiag sockets --listening --port {port}" in live.stderr


def test_explain_error_loads_no_pydantic_psutil_nor_scapy() -> None:
    """`explain --error` is pure text work: start-up is the whole cost, so nothing heavy is imported."""
    probe = (
        "import sys, contextlib, io\n"
        "from netdiag.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['explain', '--error', '111'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'pydantic', 'psutil', 'scapy', 'tabulate'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_error_explanations_without_a_target_show_examples_not_placeholders(fmt: str) -> None:
    result = invoke_netdiag("explain", "--error", "ConnectionRefusedError: [Errno 111] Connection refused",
                            "--format", fmt)
    assert result.returncode == ExitStatus.OK, result.stderr
    assert not re.search(r"\b(HOST|PORT)\b", result.stdout), result.stdout
    assert "netdiag explain lab-pc:8000 (put your server's name or address in place of" in result.stdout


@pytest.mark.root
def test_udp_explain_of_another_host_sends_the_chosen_payload(net: TwoHosts) -> None:
    with running_server("--udp", "--mode", "reply", address=f"{net.server_addr}:0",
                        netns=net.server.name) as server:
        result = run_netdiag("explain", f"{net.server_addr}:{server.port}", "--udp", "--payload", "close",
                             "--timeout", "2", "--format", "json", netns=net.client.name)
        server.wait_for_event("datagram", text="close")  # the payload asked for, not an empty datagram
    report = json.loads(result.stdout)
    assert (report["cause"], result.returncode) == ("ok", ExitStatus.OK), report
    attempt = report["attempts"][0]
    assert (attempt["state"], attempt["reason"], attempt["method"]) == ("open", "udp-response", "connect")


@pytest.mark.root
def test_udp_port_of_this_host_behind_a_drop_rule_is_asked_with_a_datagram(
        private_loopback: Namespace) -> None:
    with running_server("--udp", "--mode", "sink", netns=private_loopback.name) as server:
        private_loopback.iptables("-A", "INPUT", "-p", "udp", "--dport", str(server.port), "-j", "DROP")
        result = run_netdiag("explain", f"127.0.0.1:{server.port}", "--udp", "--timeout", "0.5",
                             "--format", "json", netns=private_loopback.name)
    report = json.loads(result.stdout)
    # the socket table would say "bound": the rule of this host decides, so a datagram was sent
    assert report["attempts"][0]["method"] == "connect"
    assert (report["cause"], result.returncode) == ("firewall-drop", ExitStatus.NETWORK_SAID_NO), report
