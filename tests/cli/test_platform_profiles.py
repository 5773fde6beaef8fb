"""Every documented command under the macOS and Windows capability profiles (tests/helpers/profiles).

The profiles take away, as netdiag's own modules see them, what those systems lack (epoll, SOCK_NONBLOCK,
netlink, AF_PACKET; on Windows also fork, geteuid, resource/fcntl, uvloop, AF_UNIX, and asyncio loops
without add_signal_handler/add_reader). Each command must end with one of its documented exit codes and
no traceback, and the verdicts on loopback must be the ones netdiag gives natively on Linux.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import NETDIAG, invoke_netdiag, netdiag_env, run_netdiag
from helpers.netns import Namespace
from helpers.profiles import PROFILES, profile_env
from helpers.servers import ENGINES, running_server

pytestmark = pytest.mark.parametrize("profile", PROFILES)


def env_for(profile: str) -> dict[str, str]:
    return profile_env(profile, netdiag_env())


def run_as(profile: str, *args: str, netns: str | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = run_netdiag(*args, env=env_for(profile), netns=netns, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1, 2, 3), (result.returncode, result.stderr)
    return result


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """A native netdiag echo server (the client side is what the profile changes)."""
    with running_server("--mode", "echo") as server:
        yield server.address


def test_the_profile_takes_the_linux_features_away(profile: str) -> None:
    result = run_as(profile, "doctor", "--format", "json")
    data = json.loads(result.stdout)
    assert data["os"] == profile
    found = {c["name"]: c["available"] for c in data["capabilities"]}
    assert found["socket table via netlink"] is False
    assert found["epoll scanner"] is False
    assert found["fork"] is (profile == "macos")
    assert found["signal handlers in asyncio"] is (profile == "macos")
    assert found["open-files limit"] is (profile == "macos")
    assert found["uvloop"] is (profile == "macos")
    assert found["firewall readable"] is False


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("doctor",), ("sockets", "-l"),
                                  ("interfaces",), ("explain", "--error", "ECONNREFUSED"),
                                  ("probe", "--help"), ("listen", "--help")])
def test_simple_commands_succeed(profile: str, args: tuple[str, ...]) -> None:
    assert run_as(profile, *args).returncode == 0


ROUTE_OUTPUT = {  # what macOS's `route -n get default` and Windows' `route print -4` print, for lo here
    "macos": "   route to: default\ndestination: default\n  interface: lo\n      flags: <UP,DONE,STATIC>\n",
    "windows": ("Active Routes:\nNetwork Destination        Netmask          Gateway      Interface  Metric\n"
                "          0.0.0.0          0.0.0.0        127.0.0.9       127.0.0.1     25\n"),
}


def test_interfaces_reads_the_default_route_with_the_platform_route_command(
        profile: str, tmp_path: Path) -> None:
    """A `route` first on PATH prints that platform's output naming lo: `interfaces` must read it."""
    script = tmp_path / "route"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{ROUTE_OUTPUT[profile]}EOF\n")
    script.chmod(0o755)
    env = env_for(profile)
    env["PATH"] = f"{tmp_path}{os.pathsep}{env.get('PATH', '')}"
    result = run_netdiag("interfaces", "-f", "json", env=env)
    assert result.returncode == 0, result.stderr
    routed = {i["name"] for i in json.loads(result.stdout)["interfaces"] if i["default_route"]}
    assert routed == {"lo"}


def test_sockets_json_lists_a_listener_through_psutil(profile: str, listener: int) -> None:
    rows = json.loads(run_as(profile, "sockets", "-f", "json").stdout)
    assert any(r["local_port"] == listener and r["state"] == "LISTEN" for r in rows)


def test_sockets_unix(profile: str) -> None:
    result = run_as(profile, "sockets", "--unix")
    assert result.returncode == 0
    if profile == "windows":
        assert "Unix domain sockets are not available on this platform (Windows)" in result.stderr
    else:
        assert "not available" not in result.stderr


@pytest.mark.parametrize("connect", [False, True], ids=["socket-table", "connect"])
def test_probe_gives_the_linux_verdicts_on_loopback(profile: str, listener: int, closed_port: int,
                                                    connect: bool) -> None:
    extra = ("--connect",) if connect else ()
    result = run_as(profile, "probe", "127.0.0.1", "-p", f"{listener},{closed_port}", "-f", "json", *extra)
    states = {r["port"]: (r["state"], r["reason"]) for r in json.loads(result.stdout)}
    if connect:  # the portable scanner (selectors), without SOCK_NONBLOCK
        assert states == {listener: ("open", "syn-ack"), closed_port: ("closed", "conn-refused")}
    else:
        assert states == {listener: ("open", "listener"), closed_port: ("closed", "no-listener")}
    assert result.returncode == 1


def test_a_scan_past_the_fork_threshold_answers_every_port(profile: str, listener: int) -> None:
    """5,000 ports: forked workers where fork exists (macOS), one process without (Windows)."""
    low = max(1, listener - 3000)
    result = run_as(profile, "probe", "127.0.0.1", "-p", f"{low}-{low + 4999}", "--connect", "--all",
                    "-f", "json")
    rows = json.loads(result.stdout)
    assert len(rows) == 5000 and all(r["state"] in ("open", "closed") for r in rows)
    assert [r["port"] for r in rows if r["state"] == "open"].count(listener) == 1


@pytest.mark.parametrize(("target", "code", "cause"),
                         [("open", 0, "ok"), ("refused", 1, "nothing-listening")])
def test_explain_gives_the_linux_verdicts_on_loopback(profile: str, listener: int, closed_port: int,
                                                      target: str, code: int, cause: str) -> None:
    port = listener if target == "open" else closed_port
    native = invoke_netdiag("explain", f"127.0.0.1:{port}", "-f", "json")
    result = run_as(profile, "explain", f"127.0.0.1:{port}", "-f", "json")
    record = json.loads(result.stdout)
    assert (result.returncode, record["cause"]) == (native.returncode, json.loads(native.stdout)["cause"])
    assert result.returncode == code and record["cause"] == cause


@pytest.mark.root
def test_a_dropped_port_times_out_as_on_linux(profile: str, private_loopback: Namespace) -> None:
    private_loopback.iptables("-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "DROP")
    native = run_netdiag("explain", "127.0.0.1:9", "--timeout", "1", "-f", "json",
                         netns=private_loopback.name)
    result = run_as(profile, "explain", "127.0.0.1:9", "--timeout", "1", "-f", "json",
                    netns=private_loopback.name)
    assert json.loads(result.stdout)["cause"] == json.loads(native.stdout)["cause"]
    assert result.returncode == native.returncode == 1
    probe = run_as(profile, "probe", "127.0.0.1", "-p", "9", "--connect", "--timeout", "1", "-f", "json",
                   netns=private_loopback.name)
    assert [(r["state"], r["reason"]) for r in json.loads(probe.stdout)] == [("filtered", "no-response")]


def test_explain_names_the_platform_firewall_commands(profile: str, closed_port: int) -> None:
    out = run_as(profile, "explain", f"127.0.0.1:{closed_port}").stdout
    if profile == "macos":
        assert "socketfilterfw --getglobalstate" in out and "sudo pfctl -sr" in out
    else:
        assert "netsh advfirewall show allprofiles" in out and "Get-NetFirewallRule" in out


def test_connect_to_a_loopback_echo_server(profile: str, echo_server: tuple[str, int]) -> None:
    host, port = echo_server
    result = run_as(profile, "connect", f"{host}:{port}", "--message", "hello")
    assert result.returncode == 0 and "hello" in result.stdout


def test_load_against_a_loopback_echo_server(profile: str, echo_server: tuple[str, int]) -> None:
    host, port = echo_server
    result = run_as(profile, "load", f"{host}:{port}", "-c", "4", "-d", "1", "-f", "json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["requests"] > 0 and not any(report["errors"].values())


@pytest.mark.parametrize("engine", ENGINES)  # not the fixture: keeps the test ids as they were
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_listen_serves_a_client_and_stops_on_a_signal(profile: str, engine: str, signum: int) -> None:
    with running_server("--engine", engine, env=env_for(profile), check_exit=False) as server:
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"ping\n")
            client.settimeout(5)
            assert client.recv(64) == b"ping\n"
        server.wait_for_event("close")
        assert server.stop(signum) == 0
    assert not any("Traceback" in line for line in server.stderr_lines), server.stderr_lines


def test_a_second_listen_on_a_served_port_is_refused(profile: str) -> None:
    """The lab's "address already in use": on Windows through SO_EXCLUSIVEADDRUSE (its SO_REUSEADDR would
    let the second server take the port), and the first server keeps serving."""
    with running_server(env=env_for(profile), check_exit=False) as server:
        host, port = server.address
        second = run_as(profile, "listen", f"{host}:{port}")
        assert second.returncode == 1 and "already in use" in second.stderr, second.stderr
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"ping\n")
            client.settimeout(5)
            assert client.recv(64) == b"ping\n"
        assert server.stop(signal.SIGTERM) == 0


def test_the_listener_is_bound_with_the_exclusive_option_on_windows(profile: str) -> None:
    """The profile's SO_EXCLUSIVEADDRUSE stands in as SO_KEEPALIVE: seen on the socket, the option was set."""
    code = ("import socket\nfrom netdiag.adapters.servers.binding import open_listener\n"
            "with open_listener('127.0.0.1', 0) as sock:\n"
            "    print(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),"
            " sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))\n")
    result = subprocess.run([sys.executable, "-c", code], env=env_for(profile), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == (["1", "0"] if profile == "windows" else ["0", "1"])


def test_tour_runs_every_step(profile: str) -> None:
    result = run_as(profile, "tour", timeout=120)
    assert result.returncode == 0, result.stderr
    other = "[::1]" if profile == "macos" else "127.0.0.2"
    assert f"{other}:" in result.stdout  # the loopback-only step uses a loopback address that exists there
    missing = "no BPF device" if profile == "macos" else "the Npcap driver is not installed"
    assert missing in result.stdout
    assert "8. Where to go next" in result.stdout


def test_handshake_says_what_is_missing_and_how_to_get_it(profile: str, listener: int) -> None:
    result = run_as(profile, "handshake", f"127.0.0.1:{listener}")
    assert result.returncode == 3
    if profile == "macos":
        assert "BPF" in result.stderr and "sudo" in result.stderr and "ChmodBPF" in result.stderr
    else:
        assert "Npcap" in result.stderr and "Support loopback traffic" in result.stderr
        assert "Administrator" in result.stderr


def test_connect_says_how_to_end_input_in_this_terminal(profile: str, echo_server: tuple[str, int]) -> None:
    """The hint is printed only when stdin is a terminal: a pseudo-terminal stands in for the user's."""
    host, port = echo_server
    primary, secondary = pty.openpty()
    process = subprocess.Popen([*NETDIAG, "connect", f"{host}:{port}"], stdin=secondary, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(profile))
    os.close(secondary)
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline() for _ in range(1)]
    finally:
        os.write(primary, b"\x04")  # end of input on this (Linux) terminal
        process.wait(timeout=10)
        os.close(primary)
    keys = "Ctrl-Z then Enter ends" if profile == "windows" else "Ctrl-D ends"
    assert any("Connected" in line and keys in line for line in lines), lines


def test_listen_udp_echoes_a_datagram_and_stops_on_ctrl_c(profile: str) -> None:
    with running_server("--udp", env=env_for(profile), check_exit=False) as server:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"ping\n", server.address)
            assert client.recvfrom(64)[0] == b"ping\n"
        assert server.stop(signal.SIGINT) == 0
    assert not any("Traceback" in line for line in server.stderr_lines), server.stderr_lines
