"""When `netdiag connect` cannot connect, it names the cause `netdiag explain` names (one diagnosis engine):
a loopback-only bind, a TCP/UDP mismatch, a local firewall REJECT, not just "nothing is listening".
"""

from __future__ import annotations

import json
import socket

import pytest
from helpers.cli import Result, invoke_netdiag, run_netdiag
from helpers.netns import Namespace
from lab.runner import running_lab_server

from netdiag.core.exit_status import ExitStatus


def connect(*args: str, netns: str | None = None) -> Result:
    """In this process, or in a child inside the namespace ``netns``."""
    if netns is None:
        result = invoke_netdiag("connect", *args)
    else:
        result = Result.of(run_netdiag("connect", *args, netns=netns, timeout=30))
    assert "Traceback" not in result.stderr, result.stderr
    return result


def explain_cause(target: str, *args: str, netns: str | None = None) -> str:
    if netns is None:
        result = invoke_netdiag("explain", target, *args, "--format", "json")
    else:
        result = Result.of(run_netdiag("explain", target, *args, "--format", "json", netns=netns, timeout=60))
    return str(json.loads(result.stdout)["cause"])


def test_another_loopback_address_than_the_servers_is_a_loopback_only_bind() -> None:
    """Both are loopback; refused on .2. Before: 'Connection refused ... nothing is listening there'."""
    with running_lab_server("echo_server") as server:  # binds 127.0.0.1 only
        target = f"127.0.0.2:{server.port}"
        result = connect(target, "-m", "x")
        assert result.returncode == ExitStatus.NETWORK_SAID_NO
        assert "Server reachable from this machine only" in result.stderr
        assert f"only on tcp 127.0.0.1:{server.port}" in result.stderr
        assert f"refused on {target}" in result.stderr  # the fact stays
        assert "nothing is listening" not in result.stderr
        assert f"Connect to 127.0.0.1:{server.port}" in result.stderr
        as_json = connect(target, "-m", "x", "--format", "json")
        error = json.loads(as_json.stdout.splitlines()[-1])
        assert error["event"] == "error" and error["cause"] == "loopback-only-bind"
        assert explain_cause(target) == "loopback-only-bind"


def test_tcp_to_a_udp_server_is_a_protocol_mismatch() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{udp.getsockname()[1]}"
        result = connect(target, "-m", "x")
        assert result.returncode == ExitStatus.NETWORK_SAID_NO
        assert "TCP / UDP mismatch" in result.stderr and "uses UDP" in result.stderr
        assert explain_cause(target) == "protocol-mismatch"


def test_a_plain_refusal_keeps_its_words() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        result = connect(f"127.0.0.1:{port}", "-m", "x")
    assert "nothing is listening there" in result.stderr


@pytest.mark.root
def test_a_local_reject_rule_is_named_as_the_firewall(private_loopback: Namespace) -> None:
    inside = ["ip", "netns", "exec", private_loopback.name]
    with running_lab_server("echo_server", argv_prefix=inside) as server:
        private_loopback.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(server.port), "-j", "REJECT",
                                  "--reject-with", "tcp-reset")
        target = f"127.0.0.1:{server.port}"
        result = connect(target, "-m", "x", netns=private_loopback.name)
        assert result.returncode == ExitStatus.NETWORK_SAID_NO
        assert "Blocked by a firewall (rejected)" in result.stderr and "REJECT" in result.stderr
        assert explain_cause(target, netns=private_loopback.name) == "firewall-reject"
