"""Diagnosing never breaks what it diagnoses: the lab's own servers still serve their own clients after
``probe``, ``explain`` and ``load`` looked at them, and print no error about it.

The lab's first echo server (handout 1.6, ``one_client_echo_server``) accepts one client and exits: a
probe that connects is that client, and one that resets kills it with ``ConnectionResetError``. The
multithreaded server (1.11, ``reply_server``) prints ``Error when handling client: ... reset``
for a client that resets. On loopback netdiag reads the socket table; across two namespaces (as root) it
sends a half-open SYN; without privileges it connects and closes gracefully, and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from helpers.cli import NETDIAG, netdiag_env, run_netdiag
from helpers.netns import SERVER_ADDR, TwoHosts
from lab.runner import LabServer, lab_program, running_lab_server

from netdiag.core.exit_status import ExitStatus

# server -> (the lab client's messages, what the lab client must print)
SESSIONS = {
    "one_client_echo_server": (["hello"], ["hello"]),
    "reply_server": (["hello", "close"], ["accepted", "closed"]),
}
NO_CAPABILITIES = ["setpriv", "--securebits=+noroot,+noroot_locked", "--bounding-set=-all", "--inh-caps=-all",
                   "--ambient-caps=-all"]


def _stopped_stderr(server: LabServer) -> str:
    """Everything the server wrote to stderr, once it has ended (a one-client server ends by itself)."""
    if server.process.poll() is None:
        server.process.terminate()
    server.process.wait(timeout=10)
    assert server.process.stderr is not None
    return server.process.stderr.read()


def _assert_served_only_its_client(server: LabServer, stderr: str) -> None:
    assert stderr == "", stderr
    assert not [line for line in server.lines if "Error" in line], server.lines
    greeted = [line for line in server.lines if line.startswith(("Connected by", "Accepted connection"))]
    assert len(greeted) == 1, server.lines  # the lab's client, and nobody else


def _run_lab_client(name: str, server: LabServer, prefix: list[str]) -> list[str]:
    messages, _ = SESSIONS[name]
    done = subprocess.run([*prefix, *lab_program("tcp_client"), server.host, str(server.port), *messages],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@contextmanager
def _lab_server(name: str, host: str = "127.0.0.1", prefix: list[str] | None = None) -> Iterator[LabServer]:
    with running_lab_server(name, host=host, argv_prefix=prefix) as server:
        yield server


@pytest.mark.parametrize("name", SESSIONS)
def test_probe_and_explain_on_loopback_leave_the_lab_server_serving(name: str) -> None:
    with _lab_server(name) as server:
        probed = run_netdiag("probe", server.address, "-f", "json")
        [record] = json.loads(probed.stdout)
        assert (record["state"], record["reason"], record["method"]) == ("open", "listener", "socket-table")
        assert "accept queue 0 of" in record["detail"]
        explained = json.loads(run_netdiag("explain", server.address, "-f", "json").stdout)
        assert explained["cause"] == "ok"
        assert explained["attempts"][0]["reason"] == "listener"
        assert _run_lab_client(name, server, []) == SESSIONS[name][1]
        if name == "reply_server":
            server.wait_for_line("Connection to client")
        _assert_served_only_its_client(server, _stopped_stderr(server))


@pytest.mark.root
@pytest.mark.parametrize("name", SESSIONS)
def test_probe_and_explain_from_another_host_send_a_syn_that_is_never_accepted(name: str,
                                                                               net: TwoHosts) -> None:
    with _lab_server(name, host=SERVER_ADDR, prefix=net.server.argv([])) as server:
        probed = run_netdiag("probe", server.address, "-f", "json", netns=net.client.name)
        [record] = json.loads(probed.stdout)
        assert (record["state"], record["reason"], record["method"]) == ("open", "syn-ack", "syn"), \
            probed.stderr
        explained = json.loads(run_netdiag("explain", server.address, "-f", "json",
                                           netns=net.client.name).stdout)
        assert (explained["cause"], explained["attempts"][0]["method"]) == ("ok", "syn")
        assert _run_lab_client(name, server, net.client.argv([])) == SESSIONS[name][1]
        if name == "reply_server":
            server.wait_for_line("Connection to client")
        _assert_served_only_its_client(server, _stopped_stderr(server))


def _without_capabilities() -> list[str]:
    if os.geteuid() != 0:
        return []  # already without: run as we are
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to drop privileges")
    return NO_CAPABILITIES


def test_connect_closes_gracefully_and_says_a_one_client_server_may_have_served_it() -> None:
    """``--connect`` (and a remote probe without raw sockets) connects for real: the one-client server
    serves that connection and exits, but cleanly (FIN, not RST: no ConnectionResetError)."""
    with _lab_server("one_client_echo_server") as server:
        probed = subprocess.run([*_without_capabilities(), *NETDIAG, "probe", server.address, "--connect",
                                 "-f", "json"], capture_output=True, text=True, timeout=60, env=netdiag_env(),
                                stdin=subprocess.DEVNULL)
        [record] = json.loads(probed.stdout)
        assert (record["state"], record["reason"], record["method"]) == ("open", "syn-ack", "connect")
        assert probed.stderr.count("a server that serves one client may just have served it") == 1
        stderr = _stopped_stderr(server)
        assert server.process.returncode == 0, stderr
        assert stderr == ""


@pytest.mark.root
def test_without_raw_sockets_a_remote_probe_connects_gracefully_and_says_so(net: TwoHosts) -> None:
    with _lab_server("one_client_echo_server", host=SERVER_ADDR, prefix=net.server.argv([])) as server:
        probed = subprocess.run([*net.client.argv(NO_CAPABILITIES), *NETDIAG, "probe", server.address, "-f",
                                 "json"], capture_output=True, text=True, timeout=60, env=netdiag_env(),
                                stdin=subprocess.DEVNULL)
        [record] = json.loads(probed.stdout)
        assert (record["state"], record["method"]) == ("open", "connect"), probed.stderr
        assert "no raw socket here for a half-open SYN probe" in probed.stderr
        stderr = _stopped_stderr(server)
        assert (server.process.returncode, stderr) == (0, "")


def test_load_checks_a_one_client_server_without_using_its_only_accept() -> None:
    with _lab_server("one_client_echo_server") as server:
        result = run_netdiag("load", server.address, "--clients", "1", "--duration", "0.3", "-f", "json")
        assert result.returncode == ExitStatus.OK, result.stderr
        assert json.loads(result.stdout)["requests"] > 0
        assert _stopped_stderr(server) == ""


def test_load_names_a_one_client_server_instead_of_listing_failures() -> None:
    with _lab_server("one_client_echo_server") as server:
        result = run_netdiag("load", server.address, "--clients", "3", "--duration", "0.3",
                             "--timeout", "0.5", "-f", "json")
    report = json.loads(result.stdout)
    assert (report["served_clients"], report["one_client_at_a_time"]) == (1, True), result.stderr
    assert "it serves one client at a time" in result.stderr
    assert "request(s) failed" not in result.stderr


@pytest.mark.root
def test_explain_on_the_server_asks_for_real_when_its_own_firewall_concerns_the_port(net: TwoHosts) -> None:
    """The socket table cannot see this host's firewall: with a rule for the port, explain sends a SYN
    (never accepted) rather than call a dropped port fine; the server still serves its client after."""
    with _lab_server("one_client_echo_server", host=SERVER_ADDR, prefix=net.server.argv([])) as server:
        rule = ("INPUT", "-p", "tcp", "--dport", str(server.port), "-j", "DROP")
        net.server.iptables("-A", *rule)
        report = json.loads(run_netdiag("explain", server.address, "--timeout", "0.5", "-f", "json",
                                        netns=net.server.name).stdout)
        assert report["cause"] == "firewall-drop", report["verdict"]
        assert report["attempts"][0]["reason"] == "no-response"
        net.server.iptables("-D", *rule)
        assert _run_lab_client("one_client_echo_server", server, net.client.argv([])) == ["hello"]
        _assert_served_only_its_client(server, _stopped_stderr(server))


@pytest.mark.root
@pytest.mark.parametrize("privileged", [True, False], ids=["syn-check", "check-is-client-0"])
def test_load_of_another_host_spends_no_connection_on_its_check(privileged: bool, net: TwoHosts) -> None:
    """As root the check is a SYN probe; without raw sockets it must connect, and that connection is then
    the first client's: either way the one-client server's only accept() serves the load."""
    with _lab_server("one_client_echo_server", host=SERVER_ADDR, prefix=net.server.argv([])) as server:
        prefix = [] if privileged else NO_CAPABILITIES
        done = subprocess.run([*net.client.argv(prefix), *NETDIAG, "load", server.address, "--allow-remote",
                               "--clients", "1", "--duration", "0.3", "-f", "json"], capture_output=True,
                              text=True, timeout=60, env=netdiag_env(), stdin=subprocess.DEVNULL)
        assert done.returncode == ExitStatus.OK, done.stderr
        report = json.loads(done.stdout)
        assert (report["connections"], report["error_count"]) == (1, 0)
        _assert_served_only_its_client(server, _stopped_stderr(server))
