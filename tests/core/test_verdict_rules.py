"""A verdict never contradicts its own checklist: the consistency check, and every rule's verdict over
thousands of observation combinations (no network: the engine is pure)."""

from __future__ import annotations

import errno
import itertools

import pytest

from netdiag.core.catalog import Cause
from netdiag.core.diagnosis import RULES, diagnose, first_verdict
from netdiag.core.observations import (
    Diagnosis,
    FirewallObservation,
    FirewallRule,
    Observations,
    RouteObservation,
    Step,
    StepStatus,
)
from netdiag.core.probe import PortState, ProbeMethod, ProbeResult, Proto, Reason
from netdiag.core.socket_table import Listener
from netdiag.core.sockets import SocketRow
from netdiag.core.verdict_rules import contradictions

PORT = 8000
HERE = "198.18.0.2"
THERE = "198.18.0.9"

IN_DROP = FirewallRule("-A INPUT -p tcp -m tcp --dport 8000 -j DROP", "drop", "iptables", "in")
IN_REJECT = FirewallRule("-A INPUT -p tcp -m tcp --dport 8000 -j REJECT", "reject", "iptables", "in")
OUT_DROP = FirewallRule("-A OUTPUT -p tcp -m tcp --dport 8000 -j DROP", "drop", "iptables", "out")
NFT_OUT = FirewallRule("table inet f chain out: tcp dport 8000 drop", "drop", "nft", "out")
IN_SOURCE = FirewallRule("-A INPUT -s 203.0.113.0/24 -p tcp -m tcp --dport 8000 -j DROP", "drop", "iptables",
                         "in")

FIREWALLS: dict[str, FirewallObservation | None] = {
    "not read": None,
    "unreadable": FirewallObservation(False, note="reading it needs root"),
    "empty": FirewallObservation(True, ("iptables", "nft")),
    "input drop": FirewallObservation(True, ("iptables",), (IN_DROP,)),
    "input reject": FirewallObservation(True, ("iptables",), (IN_REJECT,)),
    "input drop with a source": FirewallObservation(True, ("iptables",), (IN_SOURCE,)),
    "output drop": FirewallObservation(True, ("iptables",), (OUT_DROP,)),
    "nft output drop": FirewallObservation(True, ("nft",), (NFT_OUT,)),
    "input policy": FirewallObservation(True, ("iptables",),
                                        default_policies=("iptables INPUT policy DROP",)),
    "output policy": FirewallObservation(True, ("iptables",),
                                         default_policies=("iptables OUTPUT policy DROP",)),
}

ATTEMPTS: dict[str, tuple[PortState, Reason, int | None, ProbeMethod]] = {
    "syn-ack": (PortState.OPEN, Reason.SYN_ACK, None, ProbeMethod.SYN),
    "table listener": (PortState.OPEN, Reason.LISTENER, None, ProbeMethod.SOCKET_TABLE),
    "table no listener": (PortState.CLOSED, Reason.NO_LISTENER, None, ProbeMethod.SOCKET_TABLE),
    "silent": (PortState.FILTERED, Reason.NO_RESPONSE, None, ProbeMethod.SYN),
    "silent connect": (PortState.FILTERED, Reason.NO_RESPONSE, None, ProbeMethod.CONNECT),
    "refused connect": (PortState.CLOSED, Reason.CONN_REFUSED, errno.ECONNREFUSED, ProbeMethod.CONNECT),
    "refused": (PortState.CLOSED, Reason.CONN_REFUSED, errno.ECONNREFUSED, ProbeMethod.SYN),
    "eperm": (PortState.FILTERED, Reason.ADMIN_PROHIBITED, errno.EPERM, ProbeMethod.SYN),
    "admin-prohibited": (PortState.FILTERED, Reason.ADMIN_PROHIBITED, errno.EHOSTUNREACH, ProbeMethod.SYN),
    "host-unreach": (PortState.UNREACHABLE, Reason.HOST_UNREACH, errno.EHOSTUNREACH, ProbeMethod.SYN),
    "net-unreach": (PortState.UNREACHABLE, Reason.NET_UNREACH, errno.ENETUNREACH, ProbeMethod.SYN),
    "einval": (PortState.ERROR, Reason.LOCAL_ERROR, errno.EINVAL, ProbeMethod.SYN),
}

ROUTES = {
    "ok": RouteObservation("X", "198.18.0.1", "eth0"),
    "no route": RouteObservation("X", error="Network is unreachable"),
    "blackhole": RouteObservation("X", error="Invalid argument", blocked_by="blackhole 198.18.0.0/24"),
}

LISTENERS = ("none", "serving", "serving, queue full", "loopback only", "[::] v6only")


def _observations(local: bool, listeners: str, attempt: str, firewall: str, route: str,
                  neighbour: bool | None) -> Observations:
    address = HERE if local else THERE
    state, reason, code, method = ATTEMPTS[attempt]
    rows: tuple[SocketRow, ...] = ()
    table: tuple[Listener, ...] = ()
    if listeners in ("serving", "serving, queue full"):
        rows = (SocketRow("tcp", "ipv4", "0.0.0.0", PORT, None, None, "LISTEN", 7, "server"),)
        queued = 2 if listeners.endswith("full") else 0
        table = (Listener(4, "0.0.0.0", PORT, None, queued, 1),)
    elif listeners == "loopback only":
        rows = (SocketRow("tcp", "ipv4", "127.0.0.1", PORT, None, None, "LISTEN", 7, "server"),)
        table = (Listener(4, "127.0.0.1", PORT, None, 0, 5),)
    elif listeners == "[::] v6only":
        rows = (SocketRow("tcp", "ipv6", "::", PORT, None, None, "LISTEN", 7, "server"),)
        table = (Listener(6, "::", PORT, True, 0, 5),)
    row = ROUTES[route]
    return Observations(
        host=address, port=PORT, addresses=(address,),
        routes=(RouteObservation(address, row.source_address, row.interface, row.error, row.blocked_by),),
        local_target=local, listeners=rows if local else None, table=table if local else None,
        attempts=(ProbeResult(address, address, PORT, Proto.TCP, state, reason, 0.1, code, None, method),),
        firewall=FIREWALLS[firewall], neighbour_reachable=neighbour if not local else None,
    )


def _combinations() -> list[Observations]:
    found = []
    for local, listeners, attempt, firewall, route, neighbour in itertools.product(
            (True, False), LISTENERS, ATTEMPTS, FIREWALLS, ROUTES, (None, True)):
        if not local and (listeners != "none" or (neighbour is not None and attempt != "silent")
                          or attempt.startswith("table")):
            continue
        if local and (neighbour is not None or (attempt.startswith("table") and route != "ok")):
            continue
        serving = listeners.startswith("serving")
        if local and attempt in ("syn-ack", "table listener") and not serving:
            continue  # a world that cannot be: the engine's safety net answers it (last test)
        if local and attempt == "table no listener" and serving:
            continue
        if attempt == "syn-ack" and route != "ok":
            continue  # an answer through a route the kernel refused to use
        found.append(_observations(local, listeners, attempt, firewall, route, neighbour))
    return found


COMBINATIONS = _combinations()


def test_no_rule_ever_contradicts_its_own_checklist() -> None:
    """The engine's first verdict, before the safety net, agrees with its evidence in every combination."""
    assert len(COMBINATIONS) > 1000
    bad = []
    for obs in COMBINATIONS:
        verdict = first_verdict(obs, RULES)
        found = contradictions(verdict, obs)
        if found:
            bad.append((verdict.cause.value, found, obs))
    kinds = sorted({(cause, found[0]) for cause, found, _ in bad})
    assert not bad, f"{len(bad)} contradictions, of {len(kinds)} kinds: {kinds}; first: {bad[0]}"


@pytest.mark.parametrize("firewall", ["input drop", "input reject", "output drop", "nft output drop",
                                      "output policy"])
def test_a_rule_blocking_the_port_never_ends_in_ok_while_the_attempt_failed(firewall: str) -> None:
    for attempt in ("silent", "refused", "eperm"):
        diagnosis = diagnose(_observations(True, "serving", attempt, firewall, "ok", None))
        assert diagnosis.cause is not Cause.OK
        steps = {step.name: step.status for step in diagnosis.steps}
        assert steps["connect"] is StepStatus.FAILED


def test_a_conditional_rule_the_attempt_passed_is_a_warning_not_a_failed_step() -> None:
    diagnosis = diagnose(_observations(True, "serving", "syn-ack", "input drop with a source", "ok", None))
    assert diagnosis.cause is Cause.OK
    firewall = next(step for step in diagnosis.steps if step.name == "firewall")
    assert firewall.status is StepStatus.WARNING and "got through" in firewall.summary


@pytest.mark.parametrize(("name", "obs", "cause", "phrase"), [
    ("silent listener, no rule: unexplained, with what to check",
     _observations(True, "serving", "silent", "empty", "ok", None), Cause.UNKNOWN, "ss -ltn"),
    ("silent listener, full queue", _observations(True, "serving, queue full", "silent", "empty", "ok", None),
     Cause.ACCEPT_QUEUE_FULL, "accept()"),
    ("the socket table says listening, but the queue is full",
     _observations(True, "serving, queue full", "table listener", "empty", "ok", None),
     Cause.ACCEPT_QUEUE_FULL, "2 connections waiting for accept() and a backlog of 1"),
    ("silent listener behind an INPUT rule",
     _observations(True, "serving", "silent", "input drop", "ok", None),
     Cause.FIREWALL_DROP, "--dport 8000"),
    ("remote, this host's INPUT rule is not on the way", _observations(
        False, "none", "silent", "input drop", "ok", True), Cause.FIREWALL_DROP, "ARP"),
    ("remote, EPERM, an OUTPUT rule", _observations(False, "none", "eperm", "output drop", "ok", None),
     Cause.OUTBOUND_FIREWALL, "-A OUTPUT"),
    ("remote, a connect() waits, an nft output rule",
     _observations(False, "none", "silent connect", "nft output drop", "ok", None),
     Cause.OUTBOUND_FIREWALL, "chain out"),
    ("remote, a connect() refused, an OUTPUT rule (a local REJECT)",
     _observations(False, "none", "refused connect", "output drop", "ok", None),
     Cause.OUTBOUND_FIREWALL, "-A OUTPUT"),
    ("remote, a SYN probe left this host: the OUTPUT rule did not stop it",
     _observations(False, "none", "silent", "nft output drop", "ok", True),
     Cause.FIREWALL_DROP, "ARP"),
    ("remote, EPERM, OUTPUT policy", _observations(False, "none", "eperm", "output policy", "ok", None),
     Cause.OUTBOUND_FIREWALL, "OUTPUT policy DROP"),
    ("blackhole route", _observations(False, "none", "einval", "empty", "blackhole", None),
     Cause.BLOCKED_ROUTE, "EINVAL"),
    ("v6only listener asked over IPv4", _observations(True, "[::] v6only", "table no listener", "empty", "ok",
                                                       None), Cause.WRONG_ADDRESS_FAMILY, "IPv6 only"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_new_verdicts(name: str, obs: Observations, cause: Cause, phrase: str) -> None:
    diagnosis = diagnose(obs)
    assert diagnosis.cause is cause, diagnosis.verdict
    assert phrase in " ".join([diagnosis.verdict, *diagnosis.reasons]), diagnosis.verdict


def test_route_and_outbound_fixes_name_the_exact_command() -> None:
    route = diagnose(_observations(False, "none", "einval", "empty", "blackhole", None))
    assert route.fixes[0] == "Delete the route if it is not wanted: sudo ip route del blackhole 198.18.0.0/24"
    rule = diagnose(_observations(False, "none", "eperm", "output drop", "ok", None))
    assert rule.fixes[0] == "Delete the rule: sudo iptables -D OUTPUT -p tcp -m tcp --dport 8000 -j DROP"


def _diagnosis(cause: Cause, *steps: Step) -> Diagnosis:
    return Diagnosis(cause, "v", (), (), steps)


def test_the_check_finds_each_kind_of_contradiction() -> None:
    failed_firewall = Step("firewall", StepStatus.FAILED, "iptables drops port 8000")
    silent = _observations(True, "serving", "silent", "empty", "ok", None)
    assert contradictions(_diagnosis(Cause.OK, failed_firewall), silent)
    assert contradictions(_diagnosis(Cause.FIREWALL_DROP), silent)
    assert contradictions(_diagnosis(Cause.NOTHING_LISTENING), silent)
    assert contradictions(_diagnosis(Cause.ACCEPT_QUEUE_FULL), silent)
    assert contradictions(_diagnosis(Cause.BLOCKED_ROUTE), silent)
    assert contradictions(_diagnosis(Cause.OUTBOUND_FIREWALL), silent)
    opened = _observations(False, "none", "syn-ack", "empty", "ok", None)
    assert contradictions(_diagnosis(Cause.TIMEOUT), opened)
    assert not contradictions(_diagnosis(Cause.OK, Step("connect", StepStatus.OK, "open")), opened)


def test_a_contradicting_verdict_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net: a rule that speaks against the evidence is replaced by an honest 'cannot tell'."""
    import netdiag.core.diagnosis as engine

    obs = _observations(True, "serving", "silent", "empty", "ok", None)
    wrong = ((Cause.FIREWALL_DROP, lambda _obs: "a firewall, surely"),)
    assert contradictions(first_verdict(obs, wrong), obs)
    monkeypatch.setattr(engine, "RULES", wrong)
    diagnosis = diagnose(obs)
    assert diagnosis.cause is Cause.UNKNOWN
    assert "disagree" in diagnosis.verdict and "called a firewall" in diagnosis.verdict
