"""The firewall test bed, seen by ``explain``: every scenario of tests/helpers/scenarios.py, run for real in
network namespaces, must end in the scenario's cause code (and the checklist must show why)."""

from __future__ import annotations

import json

import pytest
from helpers.cli import run_netdiag
from helpers.netns import TwoHosts
from helpers.scenarios import SCENARIOS, Scenario, stage

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
    expected_exit = ExitStatus.OK if scenario.cause is Cause.OK else ExitStatus.NETWORK_SAID_NO
    assert result.returncode == expected_exit
    steps = {step["name"]: step for step in report["steps"]}
    if scenario.cause is Cause.DNS_FAILURE:
        assert steps["resolve"]["status"] == "failed"
        return
    assert steps["connect"]["status"] == ("ok" if scenario.cause is Cause.OK else "failed")
    assert [a["address"] for a in report["attempts"]] == [scenario.target_host]


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
