"""The sequence diagram and the JSON records, rendered from in-memory analyses (no root)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from netdiag.core.handshake import analyse_connection
from netdiag.render.sequence import analysis_document, backoff_pattern, render_diagram

_spec = importlib.util.spec_from_file_location(
    "handshake_cases", Path(__file__).resolve().parent.parent / "core" / "test_handshake.py")
assert _spec and _spec.loader
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


def test_diagram_has_columns_one_row_per_segment_and_the_reading() -> None:
    analysis = analyse_connection(cases.full_conversation())
    lines = render_diagram(analysis)
    assert "CLIENT 127.0.0.1:50000" in lines[0] and lines[0].rstrip().endswith("SERVER 127.0.0.1:8000")
    rows = lines[1:10]
    assert "|--- SYN seq=0 ack=- len=0 win=65495" in rows[0] and ">|" in rows[0]
    assert "mss=65495 sackOK ts=1/0 wscale=7" in rows[0]
    assert "|<-- SYN,ACK seq=0 ack=1 len=0" in rows[1]
    assert "ACK seq=1 ack=1" in rows[2]
    assert "PSH,ACK seq=1 ack=1 len=5" in rows[3]
    assert rows[1].lstrip().startswith("0.060")
    bars = {row.index("|") for row in rows}
    assert len(bars) == 1, "every arrow starts in the client column"
    assert len({row.rindex("|") for row in rows if "mss" not in row and "ts=" not in row}) == 1
    assert lines[-1].startswith("Reading: 9 segments, 0.060 ms: the server accepted")
    assert any(line.startswith("Handshake RTT: 0.060 ms") for line in lines)


def test_absolute_numbers_on_request() -> None:
    analysis = analyse_connection(cases.full_conversation())
    row = render_diagram(analysis, absolute=True)[2]
    assert f"seq={cases.S_ISN} ack={(cases.C_ISN + 1) % 2**32}" in row


def test_filtered_diagram_shows_backoff() -> None:
    c = cases.C_ISN
    analysis = analyse_connection([cases.seg(0, True, "S", c), cases.seg(1.0, True, "S", c)], waited=2.0)
    text = "\n".join(render_diagram(analysis))
    assert "retransmission #1 (+1.000 s)" in text
    assert "SYN retransmissions: 1 (+1.00 s" in text


def test_json_document_fields() -> None:
    document = json.loads(json.dumps(analysis_document(analyse_connection(cases.full_conversation()),
                                                       interface="lo")))
    first, second = document["segments"][:2]
    assert first["direction"] == "to-server" and first["flags"] == "SYN"
    assert first["src"] == "127.0.0.1:50000" and first["dst"] == "127.0.0.1:8000"
    assert first["ack"] is None and first["relative_ack"] is None
    assert first["options"] == {"mss": 65495, "wscale": 7, "sack_permitted": True, "timestamp": [1, 0]}
    assert second["ack"] == (cases.C_ISN + 1) % 2**32 and second["relative_ack"] == 1
    assert set(first) >= {"time", "direction", "src", "dst", "flags", "seq", "ack", "relative_seq",
                          "relative_ack", "len", "window", "options"}
    summary = document["summary"]
    assert summary["outcome"] == "accepted" and summary["cause"] == "ok"
    assert summary["segments"] == 9 and summary["interface"] == "lo"
    assert summary["handshake_rtt_ms"] == 0.06 and summary["teardown"] == "fin"


def test_backoff_pattern_tells_even_gaps_from_doubling() -> None:
    assert "doubles the wait each time" in backoff_pattern([1.0, 2.0, 4.0])
    assert "tcp_syn_linear_timeouts" in backoff_pattern([1.02, 1.03, 1.02])
    assert "sends the SYN again" in backoff_pattern([1.0])


def test_options_record_names_each_option_and_none_for_the_missing() -> None:
    from netdiag.core.handshake import TcpOptions
    from netdiag.render.sequence import options_record

    assert options_record(TcpOptions(mss=1460, sack_permitted=True, timestamp=(5, 0), wscale=7)) == {
        "mss": 1460, "wscale": 7, "sack_permitted": True, "timestamp": [5, 0]}
    assert options_record(TcpOptions()) == {"mss": None, "wscale": None, "sack_permitted": False,
                                            "timestamp": None}
