"""`netdiag probe` against every row of the firewall matrix, in real namespaces with real iptables."""

from __future__ import annotations

import json

import pytest
from helpers.cli import run_netdiag
from helpers.netns import TwoHosts
from helpers.scenarios import (
    MATRIX_PAGE,
    SCENARIOS,
    SCENARIOS_BY_NAME,
    UDP_SCENARIOS,
    Scenario,
    UdpScenario,
    matrix_markdown,
    stage,
    stage_udp,
)

from netdiag.core.exit_status import ExitStatus
from netdiag.core.probe import PortState


@pytest.mark.root
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_probe_gives_the_matrix_state_and_reason(scenario: Scenario, net: TwoHosts) -> None:
    with stage(scenario, net) as staged:
        result = run_netdiag("probe", staged.target, "--timeout", str(staged.timeout), "--format", "json",
                             netns=staged.namespace.name)
    assert "Traceback" not in result.stderr
    records = json.loads(result.stdout)
    assert len(records) == 1, records
    record = records[0]
    assert (record["state"], record["reason"]) == (scenario.state.value, scenario.reason.value), result.stderr
    expected_exit = ExitStatus.OK if scenario.state == PortState.OPEN else ExitStatus.NETWORK_SAID_NO
    assert result.returncode == expected_exit


@pytest.mark.root
@pytest.mark.parametrize("scenario", UDP_SCENARIOS, ids=lambda s: s.name)
def test_udp_probe_gives_the_matrix_state_and_reason(scenario: UdpScenario, net: TwoHosts) -> None:
    with stage_udp(scenario, net) as namespace:
        result = run_netdiag("probe", "--udp", scenario.target, "--timeout", str(scenario.timeout),
                             "--format", "json", netns=namespace.name)
    assert "Traceback" not in result.stderr
    [record] = json.loads(result.stdout)
    assert record["proto"] == "udp"
    assert (record["state"], record["reason"]) == (scenario.state.value, scenario.reason.value), result.stderr
    assert (record["rtt_ms"] is None) == (scenario.reason.value == "no-response")
    expected_exit = ExitStatus.OK if scenario.state == PortState.OPEN else ExitStatus.NETWORK_SAID_NO
    assert result.returncode == expected_exit


# What `probe --explain` can tell from the errno alone: the packet never left this host.
REFUSED_TO_SEND = {"client-output-drop": "outbound-firewall", "client-output-reject": "outbound-firewall",
                   "client-nft-output-drop": "outbound-firewall",
                   "client-output-policy-drop": "outbound-firewall",
                   "route-blackhole": "blocked-route", "route-prohibit": "blocked-route"}


@pytest.mark.root
@pytest.mark.parametrize("name", sorted(REFUSED_TO_SEND))
def test_probe_explain_names_what_stopped_the_packet_on_this_host(name: str, net: TwoHosts) -> None:
    with stage(SCENARIOS_BY_NAME[name], net) as staged:
        result = run_netdiag("probe", staged.target, "--timeout", str(staged.timeout), "--explain",
                             "--format", "json", netns=staged.namespace.name)
    [record] = json.loads(result.stdout)
    assert record["cause"] == REFUSED_TO_SEND[name], record


def test_the_docs_page_matches_the_table() -> None:
    assert MATRIX_PAGE.read_text() == matrix_markdown(), (
        "docs/firewall-matrix.md is stale: run .venv/bin/python tests/helpers/scenarios.py")


def test_every_scenario_name_is_unique_and_every_cause_is_a_catalog_code() -> None:
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)
    assert {s.cause.value for s in SCENARIOS} >= {"ok", "nothing-listening", "firewall-drop",
                                                   "firewall-reject", "host-unreachable", "no-route",
                                                   "dns-failure", "loopback-only-bind"}
