"""The tour's wording, from facts alone (no sockets): each step names what it observed."""

from __future__ import annotations

import re

from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.probe import PortState, ProbeResult, Proto, Reason
from netdiag.core.sockets import SocketRow
from netdiag.core.tour import (
    established_step,
    exchange_step,
    handshake_step,
    listening_step,
    loopback_only_step,
    next_steps_step,
    refused_step,
    time_wait_step,
    unavailable_step,
)


def _probe(address: str, port: int, state: PortState, reason: Reason) -> ProbeResult:
    return ProbeResult(host=address, address=address, port=port, proto=Proto.TCP, state=state,
                       reason=reason, rtt_ms=0.05)


def _row(state: str, local_port: int, remote_port: int | None) -> SocketRow:
    return SocketRow("tcp", "ipv4", "127.0.0.1", local_port, "127.0.0.1" if remote_port else None,
                     remote_port, state, None, None)


def test_listening_step_names_the_port_and_says_when_the_listing_missed_it() -> None:
    step = listening_step(43121, [_row("LISTEN", 43121, None)], server_pid=7)
    assert "127.0.0.1:43121 (process 7)" in step.facts[0] and len(step.facts) == 1
    assert "--port 43121" in step.try_it[0]
    missed = listening_step(43121, [], server_pid=None, builtin_server=True)
    assert any("not available" in fact for fact in missed.facts)
    assert any("did not show the listener" in fact for fact in missed.facts)


def test_time_wait_step_is_honest_when_time_wait_was_not_seen() -> None:
    assert "is now in TIME_WAIT" in time_wait_step(80, 50000, [], seen=True).facts[0]
    assert "no TIME_WAIT socket" in time_wait_step(80, 50000, [], seen=False).facts[0]


def test_refused_step_uses_the_catalog() -> None:
    step = refused_step(_probe("127.0.0.1", 9, PortState.CLOSED, Reason.CONN_REFUSED),
                        explanation_for(Cause.NOTHING_LISTENING))
    assert "closed (conn-refused) in 0.05 ms" in step.facts[0]
    assert explanation_for(Cause.NOTHING_LISTENING).meaning in step.facts[1]


def test_loopback_only_step_reports_both_probes_and_never_tries_lan_addresses() -> None:
    step = loopback_only_step(
        8000, _probe("127.0.0.1", 8000, PortState.OPEN, Reason.SYN_ACK),
        _probe("127.0.0.2", 8000, PortState.CLOSED, Reason.CONN_REFUSED), ["192.0.2.10"],
    )
    assert "open (syn-ack)" in step.facts[0] and "127.0.0.2:8000" in step.facts[1]
    assert "192.0.2.10" in step.facts[2] and "not tried" in step.facts[2]


def test_handshake_step_without_capture_says_how() -> None:
    step = handshake_step(8000, None, unavailable="Not run as root.")
    assert not step.available and step.facts == ("Not run as root.",)
    assert "sudo netdiag handshake 127.0.0.1:8000" in step.try_it[0]


def test_every_look_is_two_or_three_sentences() -> None:
    closed = _probe("127.0.0.1", 9, PortState.CLOSED, Reason.CONN_REFUSED)
    steps = [
        listening_step(1, [], server_pid=1),
        exchange_step(1, 2, b"hello", b"hello"),
        established_step(1, 2, []),
        time_wait_step(1, 2, [], seen=True),
        time_wait_step(1, 2, [], seen=False),
        refused_step(closed, explanation_for(Cause.NOTHING_LISTENING)),
        loopback_only_step(1, _probe("127.0.0.1", 1, PortState.OPEN, Reason.SYN_ACK), closed, []),
        handshake_step(1, None, unavailable=None),
        next_steps_step(),
        unavailable_step("t", "x", "y"),
    ]
    for step in steps:
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`'])", step.look)
        assert 2 <= len(sentences) <= 3, step.look


def test_next_steps_name_the_capture_reader() -> None:
    step = next_steps_step()
    assert "netdiag explain --pcap FILE" in step.look
    assert "netdiag explain --pcap capture.pcapng" in step.try_it
