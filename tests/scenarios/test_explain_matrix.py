"""The firewall test bed, seen by ``explain``: every scenario of tests/helpers/scenarios.py, run for real in
network namespaces, must end in the scenario's cause code (and the checklist must show why)."""

from __future__ import annotations

import json

import pytest
from helpers.cli import run_netdiag
from helpers.netns import TwoHosts
from helpers.scenarios import (
    SCENARIOS,
    SCENARIOS_BY_NAME,
    UDP_SCENARIOS,
    Scenario,
    UdpScenario,
    stage,
    stage_udp,
)

from netdiag.core.catalog import Cause
from netdiag.core.exit_status import ExitStatus

pytestmark = pytest.mark.root


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_explain_gives_the_scenario_cause(scenario: Scenario, net: TwoHosts) -> None:
    with stage(scenario, net) as staged:
        result = run_netdiag("explain", staged.target, "--timeout", str(staged.timeout), "--format", "json",
                             netns=staged.namespace.name, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert report["cause"] == scenario.cause.value, json.dumps(report, indent=2)
    assert "disagree" not in report["verdict"], "the engine's own rules, not its safety net, must answer"
    expected_exit = ExitStatus.OK if scenario.cause is Cause.OK else ExitStatus.NETWORK_SAID_NO
    assert result.returncode == expected_exit
    steps = {step["name"]: step for step in report["steps"]}
    if scenario.cause is Cause.DNS_FAILURE:
        assert steps["resolve"]["status"] == "failed"
        return
    assert steps["connect"]["status"] == ("ok" if scenario.cause is Cause.OK else "failed")
    assert [a["address"] for a in report["attempts"]] == [scenario.target_host]


@pytest.mark.parametrize("scenario", UDP_SCENARIOS, ids=lambda s: s.name)
def test_explain_udp_gives_the_scenario_cause(scenario: UdpScenario, net: TwoHosts) -> None:
    with stage_udp(scenario, net) as namespace:
        result = run_netdiag("explain", "--udp", scenario.target, "--timeout", str(scenario.timeout),
                             "--format", "json", netns=namespace.name, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert report["cause"] == scenario.cause.value, json.dumps(report, indent=2)
    assert (report["attempts"][0]["state"], report["attempts"][0]["reason"]) == \
        (scenario.state.value, scenario.reason.value)


# What each new verdict must name: the rule, the route and its `ip route del`, the queue, the listener.
NAMED = {
    "client-output-drop": ("-A OUTPUT -p tcp -m tcp --dport 8000 -j DROP",
                           "sudo iptables -D OUTPUT -p tcp -m tcp --dport 8000 -j DROP"),
    "client-output-reject": ("-A OUTPUT -p tcp -m tcp --dport 8000 -j REJECT", "iptables -D OUTPUT"),
    "client-nft-output-drop": ("chain output", "tcp dport 8000 drop"),
    "client-output-policy-drop": ("iptables OUTPUT policy DROP", "iptables -I OUTPUT -p tcp --dport 8000"),
    "nft-drop": ("ARP", "Allow the port"),
    "route-blackhole": ("blackhole 198.18.5.0/24", "sudo ip route del blackhole 198.18.5.0/24"),
    "route-prohibit": ("EACCES", "sudo ip route del prohibit 198.18.5.0/24"),
    "route-unreachable": ("EHOSTUNREACH", "sudo ip route del unreachable 198.18.5.0/24"),
    "route-throw": ("ENETUNREACH", "sudo ip route del throw 198.18.5.0/24"),
    "accept-queue-full": ("2 connections waiting for accept() and a backlog of 1", "accept() in a loop"),
    "accept-queue-full-from-client": ("accept queue is full", "Allow the port"),
    "v6only-listener": ("IPv6 only", "IPV6_V6ONLY off"),
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_new_verdicts_name_their_evidence_and_fix(name: str, net: TwoHosts) -> None:
    scenario = SCENARIOS_BY_NAME[name]
    with stage(scenario, net) as staged:
        result = run_netdiag("explain", staged.target, "--timeout", str(staged.timeout), "--format", "json",
                             netns=staged.namespace.name, timeout=60)
    report = json.loads(result.stdout)
    said, fix = NAMED[name]
    assert said in " ".join([report["verdict"], *report["reasons"]]), json.dumps(report, indent=2)
    assert any(fix in line for line in report["fixes"]), report["fixes"]


@pytest.mark.parametrize(("name", "reason"), [("client-output-drop", "no-response"),
                                            ("client-output-reject", "port-unreach")])
def test_a_real_connection_stopped_by_this_hosts_output_rule(name: str, reason: str, net: TwoHosts) -> None:
    """With --connect the kernel does not say EPERM: the connect() waits (DROP) or is refused by the local
    REJECT (its ICMP port-unreachable, seen as root), as a closed port would; the readable OUTPUT rule names
    the cause."""
    with stage(SCENARIOS_BY_NAME[name], net) as staged:
        result = run_netdiag("explain", staged.target, "--connect", "--timeout", "0.5", "--format", "json",
                             netns=staged.namespace.name, timeout=60)
    report = json.loads(result.stdout)
    assert report["attempts"][0]["reason"] == reason
    assert report["cause"] == "outbound-firewall", json.dumps(report, indent=2)
    assert "-A OUTPUT" in report["verdict"]


def test_a_silent_listener_with_no_rule_is_not_called_a_firewall(net: TwoHosts) -> None:
    """A rule in the raw table (which the firewall step, reading the filter table, does not show) drops the
    SYNs to a visible listener on the server's own host: the verdict says it cannot tell why, and what to
    check; never 'firewall-drop' without a rule to show."""
    scenario = SCENARIOS_BY_NAME["open"]
    net.server.iptables("-t", "raw", "-A", "PREROUTING", "-p", "tcp", "--dport", "8000", "-j", "DROP")
    with stage(scenario, net):
        result = run_netdiag("explain", f"{net.server_addr}:8000", "--connect", "--timeout", "0.5",
                             "--format", "json", netns=net.server.name, timeout=60)
    report = json.loads(result.stdout)
    assert report["cause"] == "unknown", json.dumps(report, indent=2)
    assert report["attempts"][0]["reason"] == "no-response"
    assert "cannot tell why" in report["verdict"] and "ss -ltn sport = :8000" in report["verdict"]
    assert "iptables -t raw -S" in report["verdict"]
    steps = {step["name"]: step["status"] for step in report["steps"]}
    assert (steps["listeners"], steps["firewall"], steps["connect"]) == ("ok", "ok", "failed")


def test_drop_is_told_from_an_absent_host_by_the_neighbour_table(net: TwoHosts) -> None:
    """Same silence, two verdicts: the server answered ARP, so its silent port is a firewall."""
    scenario = next(s for s in SCENARIOS if s.name == "drop")
    with stage(scenario, net) as staged:
        report = json.loads(run_netdiag("explain", staged.target, "--timeout", "0.5", "--format", "json",
                                        netns=staged.namespace.name).stdout)
    assert report["cause"] == "firewall-drop"
    assert any("ARP" in reason for reason in report["reasons"])


def test_server_side_explain_reads_its_own_reject_rule(net: TwoHosts) -> None:
    """Inside the server's namespace the REJECT rule is readable, so a reset-reject is no longer a mystery."""
    net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", "8000", "-j", "REJECT",
                        "--reject-with", "tcp-reset")
    result = run_netdiag("explain", f"{net.server_addr}:8000", "--timeout", "0.5", "--format", "json",
                         netns=net.server.name)
    report = json.loads(result.stdout)
    assert report["cause"] == "firewall-reject", report
    firewall = next(step for step in report["steps"] if step["name"] == "firewall")
    assert firewall["status"] == "failed"
    assert "--dport 8000" in firewall["summary"]


ROUTED_SILENT_HOST = "198.19.0.1"  # beyond the server namespace, which drops everything sent to it


def test_silence_from_a_routed_host_is_a_timeout_that_names_both_possibilities(net: TwoHosts) -> None:
    """Behind a router nothing answers ARP for the target, so silence cannot be pinned on a firewall.

    The server namespace acts as the router and drops the packets (raw PREROUTING DROP, before any
    routing decision, so no ICMP error comes back): the client sees only silence.
    """
    net.client.run("ip", "route", "add", f"{ROUTED_SILENT_HOST}/32", "via", net.server_addr)
    net.server.iptables("-t", "raw", "-A", "PREROUTING", "-d", ROUTED_SILENT_HOST, "-j", "DROP")
    result = run_netdiag("explain", f"{ROUTED_SILENT_HOST}:8000", "--timeout", "0.5", "--format", "json",
                         netns=net.client.name)
    report = json.loads(result.stdout)
    assert (report["cause"], result.returncode) == ("timeout", ExitStatus.NETWORK_SAID_NO), report
    assert report["attempts"][0]["reason"] == "no-response"
    text = " ".join([report["verdict"], *report["reasons"]]).lower()
    assert "firewall" in text and "absent" in text
    route = next(step for step in report["steps"] if step["name"] == "route")
    assert route["status"] == "ok" and net.client_addr in route["summary"]


def _firewall_state(net: TwoHosts) -> tuple[str, ...]:
    """Every rule and policy of the server namespace, without counters (a probe packet moves those)."""
    return tuple(net.server.run(*command).stdout for command in (
        ("iptables", "-w", "-S"), ("ip6tables", "-w", "-S"), ("nft", "-s", "list", "ruleset")))


def test_explain_reads_the_firewall_without_changing_it(net: TwoHosts) -> None:
    net.server.iptables("-A", "INPUT", "-p", "tcp", "--dport", "8000", "-j", "DROP")
    net.server.iptables("-P", "FORWARD", "DROP")
    before = _firewall_state(net)
    report = json.loads(run_netdiag("explain", f"{net.server_addr}:8000", "--timeout", "0.3", "--format",
                                    "json", netns=net.server.name).stdout)
    assert _firewall_state(net) == before
    firewall = next(step for step in report["steps"] if step["name"] == "firewall")
    assert firewall["status"] == "failed" and "DROP" in firewall["summary"]


def test_udp_drop_and_udp_closed_port_between_namespaces(net: TwoHosts) -> None:
    """UDP has no handshake: a closed port answers ICMP port-unreachable, a dropped one stays silent."""
    closed = json.loads(run_netdiag("explain", f"{net.server_addr}:5353", "--udp", "--timeout", "0.5",
                                    "--format", "json", netns=net.client.name).stdout)
    assert (closed["cause"], closed["attempts"][0]["reason"]) == ("nothing-listening", "port-unreach")
    net.server.iptables("-A", "INPUT", "-p", "udp", "--dport", "5353", "-j", "DROP")
    dropped = json.loads(run_netdiag("explain", f"{net.server_addr}:5353", "--udp", "--timeout", "0.5",
                                     "--format", "json", netns=net.client.name).stdout)
    assert dropped["cause"] == "firewall-drop", dropped
    assert any("-p udp --dport 5353" in fix for fix in dropped["fixes"])
