"""The diagnosis engine on scenario tables: observations in, cause out, with no socket (like trio's Scenario).

Each case is a situation a student meets, written as the facts ``explain`` would gather; the assertion is
the cause code and a key phrase of the verdict.
"""

from __future__ import annotations

import errno
from dataclasses import replace

import pytest

from netdiag.core.catalog import Cause
from netdiag.core.diagnosis import diagnose
from netdiag.core.observations import (
    FirewallObservation,
    FirewallRule,
    Observations,
    RouteObservation,
    StepStatus,
    near_ports,
    serves,
)
from netdiag.core.probe import PortState, ProbeResult, Proto, Reason
from netdiag.core.sockets import SocketRow

PORT = 8000
LAN = "192.0.2.10"  # this machine's LAN address in these tables (documentation range)
REMOTE = "198.51.100.7"


def attempt(address: str, state: PortState, reason: Reason, *, proto: Proto = Proto.TCP, port: int = PORT,
            errno_: int | None = None, icmp_from: str | None = None) -> ProbeResult:
    return ProbeResult(host=address, address=address, port=port, proto=proto, state=state, reason=reason,
                       rtt_ms=0.2, errno=errno_, icmp_from=icmp_from)


def listener(address: str, port: int = PORT, proto: str = "tcp") -> SocketRow:
    family = "ipv6" if ":" in address else "ipv4"
    state = "LISTEN" if proto == "tcp" else "UNCONN"
    return SocketRow(proto, family, address, port, None, None, state, 4242, "python3")


OPEN = (PortState.OPEN, Reason.SYN_ACK)
REFUSED = (PortState.CLOSED, Reason.CONN_REFUSED)
SILENT = (PortState.FILTERED, Reason.NO_RESPONSE)


def local(addresses: tuple[str, ...], results: list[tuple[PortState, Reason]],
          listeners: tuple[SocketRow, ...] = (), *, proto: Proto = Proto.TCP, host: str | None = None,
          firewall: FirewallObservation | None = None) -> Observations:
    return Observations(
        host=host or addresses[0], port=PORT, proto=proto, addresses=addresses,
        routes=tuple(RouteObservation(a, a, "lo" if a.startswith(("127.", "::1")) else "eth0")
                     for a in addresses),
        local_target=True, listeners=listeners,
        attempts=tuple(attempt(a, s, r, proto=proto) for a, (s, r) in zip(addresses, results, strict=True)),
        firewall=firewall or FirewallObservation(readable=True, tools=("iptables",)),
    )


def remote(results: list[ProbeResult], *, neighbour: bool | None = None,
           firewall: FirewallObservation | None = None) -> Observations:
    return Observations(host=REMOTE, port=PORT, addresses=(REMOTE,),
                        routes=(RouteObservation(REMOTE, LAN, "eth0"),), local_target=False,
                        attempts=tuple(results), neighbour_reachable=neighbour, firewall=firewall)


DROP_RULE = FirewallRule("-A INPUT -p tcp -m tcp --dport 8000 -j DROP", "drop", "iptables")
REJECT_RULE = FirewallRule("-A INPUT -p tcp -m tcp --dport 8000 -j REJECT --reject-with tcp-reset",
                           "reject", "iptables")

TABLE: list[tuple[str, Observations, Cause, str]] = [
    ("open", local(("127.0.0.1",), [OPEN], (listener("127.0.0.1"),)), Cause.OK, "answered"),
    ("refused on ::1, open on 127.0.0.1", local(("::1", "127.0.0.1"), [REFUSED, OPEN],
     (listener("127.0.0.1"),), host="localhost"), Cause.OK, "open on 127.0.0.1"),
    ("nothing listens", local(("127.0.0.1",), [REFUSED]), Cause.NOTHING_LISTENING, "no TCP socket listens"),
    ("server on 127.0.0.1, client uses the LAN address",
     local((LAN,), [REFUSED], (listener("127.0.0.1"),)), Cause.LOOPBACK_ONLY_BIND, "only on loopback"),
    ("server on 127.0.0.1, client asks 127.0.0.2 (another loopback address)",
     local(("127.0.0.2",), [REFUSED], (listener("127.0.0.1"),)), Cause.LOOPBACK_ONLY_BIND,
     "another loopback address"),
    ("nothing listens, the port's TIME_WAIT sockets remain (server just stopped), a server near",
     local(("127.0.0.1",), [REFUSED], (SocketRow("tcp", "ipv4", "127.0.0.1", PORT, "127.0.0.1", 51000,
                                                  "TIME_WAIT", None, None), listener("0.0.0.0", 8001))),
     Cause.TIME_WAIT, "TIME_WAIT (with 127.0.0.1:51000)"),
    ("server on ::1 only, client asks 127.0.0.1",
     local(("127.0.0.1",), [REFUSED], (listener("::1"),)), Cause.WRONG_ADDRESS_FAMILY, "IPv6 only"),
    ("server on 127.0.0.1 only, client asks ::1",
     local(("::1",), [REFUSED], (listener("127.0.0.1"),)), Cause.WRONG_ADDRESS_FAMILY, "IPv4 only"),
    ("server on [::] takes IPv4 too", local(("127.0.0.1",), [OPEN], (listener("::"),)), Cause.OK, ""),
    ("UDP server, TCP asked", local(("127.0.0.1",), [REFUSED], (listener("0.0.0.0", proto="udp"),)),
     Cause.PROTOCOL_MISMATCH, "uses UDP"),
    ("TCP server, UDP asked", local(("127.0.0.1",), [(PortState.CLOSED, Reason.PORT_UNREACH)],
     (listener("0.0.0.0"),), proto=Proto.UDP), Cause.PROTOCOL_MISMATCH, "uses TCP"),
    ("server on 8080, 8000 asked", local(("127.0.0.1",), [REFUSED], (listener("0.0.0.0", 8080),)),
     Cause.NEAR_PORT, "8080"),
    ("server on 8001, 8000 asked", local(("127.0.0.1",), [REFUSED], (listener("127.0.0.1", 8001),)),
     Cause.NEAR_PORT, "8001"),
    ("unrelated server on 9999", local(("127.0.0.1",), [REFUSED], (listener("0.0.0.0", 9999),)),
     Cause.NOTHING_LISTENING, ""),
    ("UDP server that stays silent", local(("127.0.0.1",), [(PortState.OPEN_FILTERED, Reason.NO_RESPONSE)],
     (listener("127.0.0.1", proto="udp"),), proto=Proto.UDP), Cause.OK, "need not"),
    ("UDP port closed", local(("127.0.0.1",), [(PortState.CLOSED, Reason.PORT_UNREACH)], proto=Proto.UDP),
     Cause.NOTHING_LISTENING, "no UDP socket"),
    ("local port silent, a listener, no rule: not a firewall, and said so",
     local(("127.0.0.1",), [SILENT], (listener("127.0.0.1"),)), Cause.UNKNOWN, "cannot tell why"),
    ("local firewall rule rejects with a reset", local(("127.0.0.1",), [REFUSED], (listener("127.0.0.1"),),
     firewall=FirewallObservation(True, ("iptables",), (REJECT_RULE,))), Cause.FIREWALL_REJECT, "REJECT"),
    ("remote refused", remote([attempt(REMOTE, *REFUSED)]), Cause.NOTHING_LISTENING, "host answered"),
    ("remote reset-reject looks closed", remote([attempt(REMOTE, *REFUSED)]), Cause.NOTHING_LISTENING, ""),
    ("remote admin-prohibited", remote([attempt(REMOTE, PortState.FILTERED, Reason.ADMIN_PROHIBITED,
     errno_=errno.EHOSTUNREACH, icmp_from=REMOTE)]), Cause.FIREWALL_REJECT, "administratively"),
    ("ICMP port-unreachable to TCP", remote([attempt(REMOTE, PortState.FILTERED, Reason.PORT_UNREACH,
     errno_=errno.ECONNREFUSED, icmp_from=REMOTE)]), Cause.FIREWALL_REJECT, "closed TCP port answers"),
    ("host-unreachable sent by the target itself", remote([attempt(REMOTE, PortState.UNREACHABLE,
     Reason.HOST_UNREACH, errno_=errno.EHOSTUNREACH, icmp_from=REMOTE)]), Cause.FIREWALL_REJECT,
     "target itself"),
    ("host-unreachable from our own kernel (ARP failed)", remote([attempt(REMOTE, PortState.UNREACHABLE,
     Reason.HOST_UNREACH, errno_=errno.EHOSTUNREACH)]), Cause.HOST_UNREACHABLE, "cannot be reached"),
    ("silence, neighbour answered ARP", remote([attempt(REMOTE, *SILENT)], neighbour=True),
     Cause.FIREWALL_DROP, "ARP"),
    ("silence, nothing else known", remote([attempt(REMOTE, *SILENT)], neighbour=False), Cause.TIMEOUT,
     "absent host"),
    ("silence on one address, refusal on another", Observations(
        host="dual", port=PORT, addresses=("2001:db8::7", REMOTE),
        attempts=(attempt("2001:db8::7", *SILENT), attempt(REMOTE, *REFUSED))), Cause.NOTHING_LISTENING, ""),
    ("silence on v6, reset-free answer elsewhere shows the host", Observations(
        host="dual", port=PORT, addresses=("2001:db8::7", REMOTE),
        attempts=(attempt("2001:db8::7", *SILENT),
                  attempt(REMOTE, PortState.UNREACHABLE, Reason.HOST_UNREACH, icmp_from="192.0.2.1"))),
     Cause.HOST_UNREACHABLE, ""),
    ("silence, and a DROP rule read on this host", remote([attempt(REMOTE, *SILENT)],
     firewall=FirewallObservation(True, ("iptables",), (DROP_RULE,))), Cause.FIREWALL_DROP, "DROP"),
    ("local OUTPUT drop: EPERM", remote([attempt(REMOTE, PortState.FILTERED, Reason.ADMIN_PROHIBITED,
     errno_=errno.EPERM)]), Cause.OUTBOUND_FIREWALL, "operation not permitted"),
    ("network unreachable", Observations(host=REMOTE, port=PORT, addresses=(REMOTE,),
     routes=(RouteObservation(REMOTE, error="Network is unreachable"),),
     attempts=(attempt(REMOTE, PortState.UNREACHABLE, Reason.NET_UNREACH, errno_=errno.ENETUNREACH),)),
     Cause.NO_ROUTE, "network unreachable"),
    ("reset", remote([attempt(REMOTE, PortState.CLOSED, Reason.RESET)]), Cause.CONNECTION_RESET, "reset"),
    ("name not resolved", Observations(host="nothing.invalid", port=PORT,
     resolve_error="Name or service not known"), Cause.DNS_FAILURE, "nothing.invalid"),
    ("a local error netdiag does not know", remote([attempt(REMOTE, PortState.ERROR, Reason.LOCAL_ERROR)]),
     Cause.UNKNOWN, "does not know"),
]


@pytest.mark.parametrize(("name", "obs", "cause", "phrase"), TABLE, ids=[row[0] for row in TABLE])
def test_diagnosis_table(name: str, obs: Observations, cause: Cause, phrase: str) -> None:
    diagnosis = diagnose(obs)
    assert diagnosis.cause is cause, diagnosis.verdict
    assert phrase in diagnosis.verdict
    assert diagnosis.ok is (cause is Cause.OK)
    if cause is not Cause.OK:
        assert diagnosis.fixes, "a failed diagnosis always says what to do"


def test_every_attempt_is_kept_as_a_fact() -> None:
    obs = local(("::1", "127.0.0.1"), [REFUSED, OPEN], (listener("127.0.0.1"),), host="localhost")
    diagnosis = diagnose(obs)
    connect = next(step for step in diagnosis.steps if step.name == "connect")
    assert connect.status is StepStatus.WARNING
    text = " ".join((connect.summary, *connect.details))
    assert "closed on ::1" in text and "open on 127.0.0.1" in text


def test_specific_fixes_name_the_real_address_and_port() -> None:
    loopback = diagnose(local((LAN,), [REFUSED], (listener("127.0.0.1"),)))
    assert "127.0.0.1:8000" in loopback.fixes[0] and "0.0.0.0:8000" in loopback.fixes[0]
    near = diagnose(local(("127.0.0.1",), [REFUSED], (listener("0.0.0.0", 8080),)))
    assert near.fixes[0] == "Use port 8080: netdiag connect 127.0.0.1:8080"
    refused = diagnose(local(("127.0.0.1",), [REFUSED]))
    assert all("PORT" not in fix for fix in refused.fixes)


def test_a_firewall_in_front_of_nothing_says_to_start_the_server_after_allowing_the_port() -> None:
    blocked = local(("127.0.0.1",), [SILENT], firewall=FirewallObservation(True, ("iptables",), (DROP_RULE,)))
    diagnosis = diagnose(blocked)
    assert diagnosis.cause is Cause.FIREWALL_DROP
    assert any("nothing listens on TCP port 8000" in reason for reason in diagnosis.reasons)
    assert diagnosis.fixes[-1].startswith("Start the server on port 8000")
    served = diagnose(replace(blocked, listeners=(listener("127.0.0.1"),)))
    assert not any("Start the server" in fix for fix in served.fixes)
    firewall = next(step for step in diagnosis.steps if step.name == "firewall")
    assert DROP_RULE.text in firewall.summary
    assert not any(DROP_RULE.text in detail for detail in firewall.details), "the rule is shown once"


def test_the_unspecified_address_as_a_destination_is_this_machine_and_a_warning() -> None:
    served = diagnose(local(("0.0.0.0",), [OPEN], (listener("127.0.0.1"),)))
    assert served.cause is Cause.OK
    resolve = served.steps[0]
    assert resolve.status is StepStatus.WARNING and "a server binds" in resolve.summary
    assert "WinError 10049" in resolve.details[0]
    v6 = diagnose(local(("::",), [REFUSED], (listener("0.0.0.0"),)))
    assert v6.cause is Cause.WRONG_ADDRESS_FAMILY
    assert v6.fixes[0].startswith("Connect to 127.0.0.1:8000"), "never advise connecting to 0.0.0.0"


def test_remote_udp_silence_names_the_silent_server_too_and_fixes_say_udp() -> None:
    silent = attempt(REMOTE, PortState.OPEN_FILTERED, Reason.NO_RESPONSE, proto=Proto.UDP)
    up = diagnose(replace(remote([silent], neighbour=True), proto=Proto.UDP))
    assert up.cause is Cause.FIREWALL_DROP
    assert "ignores the probe datagram" in up.verdict and f"netdiag connect {REMOTE}:8000 --udp" in up.verdict
    allow = next(fix for fix in up.fixes if fix.startswith("Allow the port"))
    assert "-p udp --dport 8000" in allow and "8000/udp" in allow and "tcp" not in allow
    unknown = diagnose(replace(remote([silent]), proto=Proto.UDP))
    assert unknown.cause is Cause.TIMEOUT and "UDP server" in unknown.verdict


def test_specific_fixes_for_udp_say_udp() -> None:
    closed = diagnose(local(("127.0.0.1",), [(PortState.CLOSED, Reason.PORT_UNREACH)], proto=Proto.UDP))
    assert "netdiag listen 127.0.0.1:8000 --udp" in closed.fixes[0]
    near = diagnose(local(("127.0.0.1",), [(PortState.CLOSED, Reason.PORT_UNREACH)],
                          (listener("127.0.0.1", 8001, proto="udp"),), proto=Proto.UDP))
    assert near.fixes[0] == "Use port 8001: netdiag connect 127.0.0.1:8001 --udp"


def test_checklist_steps_in_order_and_statuses() -> None:
    diagnosis = diagnose(local((LAN,), [REFUSED], (listener("127.0.0.1"),)))
    assert [s.name for s in diagnosis.steps] == ["resolve", "route", "listeners", "connect", "firewall"]
    statuses = {s.name: s.status for s in diagnosis.steps}
    assert statuses["listeners"] is StepStatus.FAILED and statuses["connect"] is StepStatus.FAILED
    assert statuses["resolve"] is StepStatus.OK


def test_dns_failure_stops_the_checklist_after_resolution() -> None:
    diagnosis = diagnose(Observations(host="nothing.invalid", port=PORT, resolve_error="no such host"))
    assert [(s.name, s.status) for s in diagnosis.steps] == [("resolve", StepStatus.FAILED)]


def test_unreadable_firewall_is_a_warning_that_says_why() -> None:
    fw = FirewallObservation(readable=False, note="reading iptables needs root (run with sudo)")
    diagnosis = diagnose(replace(local(("127.0.0.1",), [OPEN], (listener("127.0.0.1"),)), firewall=fw))
    step = next(s for s in diagnosis.steps if s.name == "firewall")
    assert step.status is StepStatus.WARNING and "root" in step.summary


@pytest.mark.parametrize(("platform", "phrase"), [("windows", "Windows Defender"), ("macos", "application")])
def test_os_firewall_hints(platform: str, phrase: str) -> None:
    obs = replace(local(("127.0.0.1",), [SILENT], (listener("127.0.0.1"),)), platform=platform, firewall=None)
    step = diagnose(obs).steps[-1]
    assert step.name == "os-firewall" and phrase in step.summary


def test_near_ports_and_address_matching() -> None:
    assert {8001, 7999, 8010, 7990, 800, 8080} <= set(near_ports(8000))
    assert 8000 not in near_ports(8000)
    assert 8080 in near_ports(8000) and 8000 in near_ports(8080) and 80 in near_ports(8080)
    assert serves(listener("0.0.0.0"), "192.0.2.10") and not serves(listener("0.0.0.0"), "::1")
    assert serves(listener("::"), "127.0.0.1") and serves(listener("::"), "::1")
    assert not serves(listener("127.0.0.1"), "192.0.2.10")
    assert serves(listener("::ffff:127.0.0.1"), "127.0.0.1")


def test_udp_ok_is_reachable_not_connected() -> None:
    """UDP has no connection: its "ok" is headed and explained in UDP's words, TCP's keeps the catalog's."""
    udp = diagnose(local(("127.0.0.1",), [(PortState.OPEN_FILTERED, Reason.NO_RESPONSE)],
                         (listener("127.0.0.1", proto="udp"),), proto=Proto.UDP))
    assert udp.cause is Cause.OK and udp.title == "Reachable" and "datagram" in udp.meaning
    tcp = diagnose(local(("127.0.0.1",), [(PortState.OPEN, Reason.SYN_ACK)], (listener("127.0.0.1"),)))
    assert tcp.cause is Cause.OK and (tcp.title, tcp.meaning) == ("", "")
