"""The explain renderers: the checklist and verdict as text (plain and styled), and the JSON records."""

from __future__ import annotations

from dataclasses import replace

from netdiag.core.diagnosis import diagnose
from netdiag.core.error_text import read_error_text
from netdiag.core.observations import FirewallObservation, Observations, RouteObservation
from netdiag.core.probe import PortState, ProbeMethod, ProbeResult, Proto, Reason
from netdiag.core.sockets import SocketRow
from netdiag.render.explanation import (
    checklist_lines,
    diagnosis_record,
    error_reading_lines,
    error_reading_record,
)

REFUSED = Observations(
    host="127.0.0.1", port=8000, addresses=("127.0.0.1",),
    routes=(RouteObservation("127.0.0.1", "127.0.0.1", "lo"),), local_target=True, listeners=(),
    attempts=(ProbeResult("127.0.0.1", "127.0.0.1", 8000, Proto.TCP, PortState.CLOSED, Reason.CONN_REFUSED,
                          0.1, 111),),
    firewall=FirewallObservation(readable=True, tools=("iptables",)),
)


def test_checklist_has_one_marked_line_per_step_then_the_verdict_and_numbered_fixes() -> None:
    lines = checklist_lines(REFUSED, diagnose(REFUSED))
    assert lines[0] == "Checking 127.0.0.1:8000 (tcp)"
    marked = [line.split()[0:2] for line in lines if line.startswith("  [")]
    assert marked == [["[", "ok"], ["[", "ok"], ["[FAIL]", "listeners"], ["[FAIL]", "connect"], ["[", "ok"]]
    verdict = lines.index("Verdict: Connection refused  [cause: nothing-listening]")
    first_fix = "    1. Start the server on port 8000, for example: netdiag listen 127.0.0.1:8000"
    assert first_fix in lines[verdict:]
    assert not any("\x1b[" in line for line in lines)


def test_styles_are_applied_only_through_the_style_function() -> None:
    def bracket(text: str, *styles: str) -> str:
        return f"<{','.join(styles)}>{text}</>" if styles else text

    lines = checklist_lines(REFUSED, diagnose(REFUSED), style=bracket)
    assert any("<red,bold>[FAIL]</>" in line for line in lines)
    assert any(line.startswith("<red,bold>Verdict:") for line in lines)


def test_diagnosis_record_keys_and_values() -> None:
    record = diagnosis_record(REFUSED, diagnose(REFUSED))
    assert list(record) == ["target", "host", "port", "proto", "addresses", "cause", "ok", "title", "verdict",
                            "reasons", "meaning", "fixes", "steps", "attempts"]
    assert (record["cause"], record["ok"], record["proto"]) == ("nothing-listening", False, "tcp")
    assert record["attempts"] == [{"address": "127.0.0.1", "state": "closed", "reason": "conn-refused",
                                   "rtt_ms": 0.1, "errno": 111, "icmp_from": None,
                                   "method": "connect"}]
    assert {step["status"] for step in record["steps"]} <= {"ok", "warning", "failed", "skipped"}


def test_a_udp_ok_is_headed_reachable_in_text_and_json() -> None:
    bound = ProbeResult("127.0.0.1", "127.0.0.1", 8000, Proto.UDP, PortState.OPEN, Reason.NO_LISTENER,
                        None, None, method=ProbeMethod.SOCKET_TABLE)
    obs = replace(REFUSED, proto=Proto.UDP, attempts=(bound,),
                  listeners=(SocketRow("udp", "ipv4", "127.0.0.1", 8000, None, None, "UNCONN", 42, "lab"),))
    diagnosis = diagnose(obs)
    lines = checklist_lines(obs, diagnosis)
    assert "Verdict: Reachable  [cause: ok]" in lines
    assert any("is bound and receives datagrams for 127.0.0.1" in line for line in lines)
    record = diagnosis_record(obs, diagnosis)
    assert record["title"] == "Reachable" and "datagram" in record["meaning"]
    assert diagnosis_record(REFUSED, diagnose(REFUSED))["title"] == "Connection refused"


def test_error_reading_text_and_record() -> None:
    reading = read_error_text("Error: listen EADDRINUSE: address already in use :::3000")
    text = "\n".join(error_reading_lines(reading))
    assert text.startswith("Address already in use  [cause: address-in-use]")
    assert "Linux        98  EADDRINUSE" in text and "macOS        48  EADDRINUSE" in text
    assert "netdiag sockets --listening --port 3000" in text
    record = error_reading_record(reading)
    assert record["port"] == 3000 and record["operation"] == "bind"
    assert "Find the owner: netdiag sockets --listening --port 3000, and stop it." in record["fixes"]


def test_docs_explain_md_documents_every_json_key() -> None:
    """docs/explain.md's `## JSON output` tables name every key the records carry, at every level."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "explain.md").read_text(encoding="utf-8")
    section = page.split("## JSON output", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", section))
    diagnosis = diagnosis_record(REFUSED, diagnose(REFUSED))
    reading = error_reading_record(read_error_text("ConnectionRefusedError: [Errno 111] Connection refused"))
    keys = {*diagnosis, *diagnosis["steps"][0], *diagnosis["attempts"][0], *reading, *reading["readings"][0]}
    assert keys <= documented, f"undocumented JSON keys: {sorted(keys - documented)}"
