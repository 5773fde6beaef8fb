"""`netdiag interfaces` inside namespaces the test builds: the veth address 198.18.0.x is the answer."""

from __future__ import annotations

import json
import sys

import pytest
from helpers.cli import run_netdiag
from helpers.netns import Namespace, TwoHosts

from netdiag.core.exit_status import ExitStatus

pytestmark = pytest.mark.root

SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8000)); s.listen(); print("ready", flush=True); sys.stdin.read()
"""
CLIENT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 8000), timeout=5).close(); print("connected")
except ConnectionRefusedError:
    print("refused")
"""


def test_json_names_the_veth_address_and_marks_loopback(net: TwoHosts) -> None:
    result = run_netdiag("interfaces", "--format", "json", netns=net.server.name)
    assert result.returncode == ExitStatus.OK, result.stderr
    data = json.loads(result.stdout)
    by_name = {i["name"]: i for i in data["interfaces"]}
    assert by_name["lo"]["loopback"] is True and by_name["lo"]["up"] is True
    [veth] = [i for i in data["interfaces"] if not i["loopback"]]
    assert veth["up"] is True and veth["mtu"] == 1500 and veth["default_route"] is False
    assert {"family": "ipv4", "address": net.server_addr, "netmask": "255.255.255.0",
            "prefix_length": 24} in veth["addresses"]
    assert data["reach"]["address"] == net.server_addr
    assert data["reach"]["interface"] == veth["name"]
    assert [m["bind"] for m in data["reach"]["bind_meanings"]] == ["127.0.0.1", "0.0.0.0", net.server_addr]


def test_table_answers_the_lab_question_in_words(net: TwoHosts) -> None:
    result = run_netdiag("interfaces", netns=net.client.name)
    assert result.returncode == ExitStatus.OK, result.stderr
    text = result.stdout
    assert "Which address should a classmate's machine use to reach this one?" in text
    assert f"  {net.client_addr}  (" in text
    assert f"netdiag connect {net.client_addr}:PORT" in text
    for bind in ("127.0.0.1", "0.0.0.0", net.client_addr):
        assert f"\n  {bind} " in text
    assert "loopback: this machine only" in text


def test_a_lone_namespace_has_no_address_for_others(private_loopback: Namespace) -> None:
    result = run_netdiag("interfaces", "--format", "json", netns=private_loopback.name)
    assert json.loads(result.stdout)["reach"]["address"] is None


def _outcome(host: Namespace, bind: str, client: Namespace, target: str) -> str:
    server = host.popen(sys.executable, "-c", SERVER, bind, stdin=-1)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        return client.run(sys.executable, "-c", CLIENT, target).stdout.strip()
    finally:
        server.kill()
        server.wait(timeout=10)


def test_what_the_text_says_about_bind_addresses_is_true(net: TwoHosts) -> None:
    """The three meanings, checked on a real pair of hosts: the words must match the kernel."""
    assert _outcome(net.server, "127.0.0.1", net.client, net.server_addr) == "refused"
    assert _outcome(net.server, "0.0.0.0", net.client, net.server_addr) == "connected"
    assert _outcome(net.server, "0.0.0.0", net.server, "127.0.0.1") == "connected"
    assert _outcome(net.server, net.server_addr, net.client, net.server_addr) == "connected"
    assert _outcome(net.server, net.server_addr, net.server, "127.0.0.1") == "refused"
