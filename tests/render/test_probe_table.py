"""``netdiag probe``'s records, table and explained causes (render/probe_table.py), from results only."""

from __future__ import annotations

import json

from netdiag.core.probe import PortState, ProbeMethod, ProbeResult, Proto, Reason
from netdiag.render.probe_table import cause_lines, probe_record, probe_results_text


def result(state: PortState, reason: Reason, *, port: int = 80, address: str | None = "198.18.0.2",
           method: ProbeMethod = ProbeMethod.CONNECT, detail: str | None = None) -> ProbeResult:
    return ProbeResult("h", address, port, Proto.TCP, state, reason, 0.5, method=method, detail=detail)


def test_probe_record_has_the_documented_keys() -> None:
    plain = probe_record(result(PortState.CLOSED, Reason.CONN_REFUSED))
    assert list(plain) == ["host", "address", "port", "service", "proto", "state", "reason", "rtt_ms",
                           "method", "detail"]
    assert plain["method"] == "connect" and plain["detail"] is None
    assert plain["state"] == "closed" and plain["proto"] == "tcp"
    explained = probe_record(result(PortState.CLOSED, Reason.CONN_REFUSED), explain=True)
    assert explained["cause"] == "nothing-listening"
    explanation = explained["explanation"]
    assert isinstance(explanation, dict)
    assert set(explanation) == {"title", "meaning", "likely_causes", "fixes"}
    assert explanation["fixes"]


def test_table_has_tabulates_layout_and_dashes_for_nothing() -> None:
    text = probe_results_text([result(PortState.OPEN, Reason.SYN_ACK, port=22)], fmt="table",
                              explain=False, services={22: "ssh"})
    assert text == ("HOST    ADDRESS     PORT    SERVICE    PROTO    STATE    REASON    RTT_MS\n"
                    "h       198.18.0.2  22      ssh        tcp      open     syn-ack   0.5")


def test_table_styles_the_state_and_explain_adds_the_cause() -> None:
    text = probe_results_text([result(PortState.CLOSED, Reason.CONN_REFUSED, address=None)], fmt="table",
                              explain=True, services={},
                              style=lambda text, *styles: f"<{','.join(styles)}>{text}")
    assert text is not None
    header, row = text.splitlines()
    assert header.endswith("CAUSE") and "<red>closed" in row and row.endswith("nothing-listening")
    assert row.split()[1] == "-"


def test_an_empty_table_prints_nothing_but_json_prints_a_list() -> None:
    assert probe_results_text([], fmt="table", explain=False, services={}) is None
    assert json.loads(probe_results_text([], fmt="json", explain=False, services={}) or "") == []


def test_json_and_csv() -> None:
    results = [result(PortState.OPEN, Reason.SYN_ACK)]
    records = json.loads(probe_results_text(results, fmt="json", explain=False, services={}) or "")
    assert records == [probe_record(results[0])]
    csv = probe_results_text(results, fmt="csv", explain=True, services={80: "http"})
    assert csv == ("host,address,port,service,proto,state,reason,rtt_ms,cause\n"
                   "h,198.18.0.2,80,http,tcp,open,syn-ack,0.5,ok")


def test_each_cause_is_explained_once_and_open_ports_not_at_all() -> None:
    results = [result(PortState.OPEN, Reason.SYN_ACK, port=1),
               result(PortState.CLOSED, Reason.CONN_REFUSED, port=2, method=ProbeMethod.SOCKET_TABLE,
                      detail="no listener (read from the socket table)"),
               result(PortState.CLOSED, Reason.CONN_REFUSED, port=3)]
    lines = cause_lines(results)
    assert lines[0].startswith("\nnothing-listening: ")
    assert lines[0].endswith("(e.g. h:2 closed/conn-refused)")
    assert lines[1] == "  Read from this host's socket table, nothing sent: no listener."
    assert lines[2].startswith("  What it means: ")
    assert sum(line.startswith("\n") for line in lines) == 1
