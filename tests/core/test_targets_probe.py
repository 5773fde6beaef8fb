"""Pure tests: probe targets and port lists, outcome classification, ICMP quotes, report shaping."""

from __future__ import annotations

import errno
import ipaddress
import struct

import pytest

from netdiag.core.catalog import Cause
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import UsageError
from netdiag.core.icmp import IPPROTO_TCP, IPPROTO_UDP, parse_icmp4_unreachable, parse_icmp6_unreachable
from netdiag.core.probe import (
    IcmpReport,
    PortState,
    ProbeResult,
    Proto,
    Reason,
    classify_tcp_outcome,
    classify_udp_outcome,
    is_self_connection,
    probe_cause,
)
from netdiag.core.probe_report import probe_exit_status, summarize
from netdiag.core.targets import ProbeTarget, format_port_list, parse_port_spec, parse_probe_target

SERVICES = {("http", "tcp"): 80, ("https", "tcp"): 443, ("domain", "udp"): 53}


def lookup(name: str, proto: str) -> int | None:
    return SERVICES.get((name, proto))


# --- targets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:80", ProbeTarget("127.0.0.1", (80,))),
        ("localhost:22,80,443", ProbeTarget("localhost", (22, 80, 443))),
        ("host:8000-8003", ProbeTarget("host", (8000, 8001, 8002, 8003))),
        ("host:80,79-81,80", ProbeTarget("host", (80, 79, 81))),
        ("[::1]:http", ProbeTarget("::1", (80,))),
        ("[fe80::1%lo]:HTTPS", ProbeTarget("fe80::1%lo", (443,))),
        ("host:65534-", ProbeTarget("host", (65534, 65535))),
        ("host:-3", ProbeTarget("host", (1, 2, 3))),
        ("host:http,8080", ProbeTarget("host", (80, 8080))),
    ],
)
def test_parse_probe_target_accepts(text: str, expected: ProbeTarget) -> None:
    assert parse_probe_target(text, lookup=lookup) == expected


def test_full_range_has_every_port_once() -> None:
    assert parse_port_spec("1-65535") == tuple(range(1, 65536))


def test_service_names_depend_on_the_protocol() -> None:
    assert parse_probe_target("h:domain", lookup=lookup, proto="udp").ports == (53,)
    with pytest.raises(UsageError, match="Unknown service name 'domain' for TCP"):
        parse_probe_target("h:domain", lookup=lookup, proto="tcp")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("127.0.0.1", "has no port"),
        ("", "empty target"),
        ("host:", "No port given"),
        ("host:0", "out of range"),
        ("host:70000", "out of range"),
        ("host:100-10", "goes backwards: write 10-100"),
        ("host:80,,81", "empty item"),
        ("host:nosuchservice", "Unknown service name 'nosuchservice'"),
        ("host:8$0", "neither a port, a range nor a service name"),
        ("::1:80", "without brackets"),
        ("[::1:80", "not a valid address"),
        ("[nothost]:80", "not an IPv6 address"),
    ],
)
def test_parse_probe_target_rejects_with_a_sentence(text: str, phrase: str) -> None:
    with pytest.raises(UsageError, match=phrase):
        parse_probe_target(text, lookup=lookup)


def test_bare_hosts_take_the_default_ports() -> None:
    assert parse_probe_target("127.0.0.1", default_ports=(22, 80)) == ProbeTarget("127.0.0.1", (22, 80))
    assert parse_probe_target("::1", default_ports=(22,)) == ProbeTarget("::1", (22,))
    assert parse_probe_target("[::1]", default_ports=(22,)) == ProbeTarget("::1", (22,))
    assert parse_probe_target("h:9", default_ports=(22,)) == ProbeTarget("h", (9,))


def test_format_port_list_is_compact_and_round_trips() -> None:
    assert format_port_list((80, 1, 2, 3, 443, 444)) == "1-3,80,443-444"
    target = ProbeTarget("::1", (1, 2, 3, 80))
    assert str(target) == "[::1]:1-3,80"
    assert parse_probe_target(str(target)) == target


# --- classification --------------------------------------------------------------------------------

def icmp(code: int, family: int = 4, sender: str = "198.18.0.2") -> IcmpReport:
    return IcmpReport(family=family, code=code, sender=sender)


@pytest.mark.parametrize(
    ("error", "timed_out", "report", "expected"),
    [
        (0, False, None, (PortState.OPEN, Reason.SYN_ACK)),
        (None, True, None, (PortState.FILTERED, Reason.NO_RESPONSE)),
        (errno.ECONNREFUSED, False, None, (PortState.CLOSED, Reason.CONN_REFUSED)),
        (errno.ECONNREFUSED, False, icmp(3), (PortState.FILTERED, Reason.PORT_UNREACH)),
        (errno.EHOSTUNREACH, False, None, (PortState.UNREACHABLE, Reason.HOST_UNREACH)),
        (errno.EHOSTUNREACH, False, icmp(13), (PortState.FILTERED, Reason.ADMIN_PROHIBITED)),
        (errno.EHOSTUNREACH, False, icmp(10), (PortState.FILTERED, Reason.ADMIN_PROHIBITED)),
        (errno.EHOSTUNREACH, False, icmp(1), (PortState.UNREACHABLE, Reason.HOST_UNREACH)),
        (errno.EHOSTUNREACH, False, icmp(1, family=6), (PortState.FILTERED, Reason.ADMIN_PROHIBITED)),
        (errno.ECONNREFUSED, False, icmp(4, family=6), (PortState.FILTERED, Reason.PORT_UNREACH)),
        (errno.ENETUNREACH, False, None, (PortState.UNREACHABLE, Reason.NET_UNREACH)),
        (errno.ETIMEDOUT, False, None, (PortState.FILTERED, Reason.NO_RESPONSE)),
        (errno.EPERM, False, None, (PortState.FILTERED, Reason.ADMIN_PROHIBITED)),
        (errno.ECONNRESET, False, None, (PortState.CLOSED, Reason.RESET)),
        (errno.EMFILE, False, None, (PortState.ERROR, Reason.LOCAL_ERROR)),
    ],
)
def test_classify_tcp_outcome(error: int | None, timed_out: bool, report: IcmpReport | None,
                              expected: tuple[PortState, Reason]) -> None:
    assert classify_tcp_outcome(error, timed_out=timed_out, icmp=report) == expected


@pytest.mark.parametrize(
    ("error", "replied", "report", "expected"),
    [
        (None, True, None, (PortState.OPEN, Reason.UDP_RESPONSE)),
        (None, False, None, (PortState.OPEN_FILTERED, Reason.NO_RESPONSE)),
        (errno.ECONNREFUSED, False, icmp(3), (PortState.CLOSED, Reason.PORT_UNREACH)),
        (errno.ECONNREFUSED, False, None, (PortState.CLOSED, Reason.PORT_UNREACH)),
        (errno.EHOSTUNREACH, False, icmp(13), (PortState.FILTERED, Reason.ADMIN_PROHIBITED)),
        (errno.EHOSTUNREACH, False, None, (PortState.UNREACHABLE, Reason.HOST_UNREACH)),
    ],
)
def test_classify_udp_outcome(error: int | None, replied: bool, report: IcmpReport | None,
                              expected: tuple[PortState, Reason]) -> None:
    assert classify_udp_outcome(error, replied=replied, icmp=report) == expected


def test_self_connection_is_same_address_and_port_on_both_ends() -> None:
    assert is_self_connection(("127.0.0.1", 40000), ("127.0.0.1", 40000))
    assert not is_self_connection(("127.0.0.1", 40001), ("127.0.0.1", 40000))


def result(state: PortState, reason: Reason, *, proto: Proto = Proto.TCP, port: int = 80,
           address: str | None = "198.18.0.2", icmp_from: str | None = None) -> ProbeResult:
    return ProbeResult("h", address, port, proto, state, reason, 0.5, icmp_from=icmp_from)


@pytest.mark.parametrize(
    ("probe", "cause"),
    [
        (result(PortState.OPEN, Reason.SYN_ACK), Cause.OK),
        (result(PortState.CLOSED, Reason.CONN_REFUSED), Cause.NOTHING_LISTENING),
        (result(PortState.FILTERED, Reason.NO_RESPONSE), Cause.FIREWALL_DROP),
        (result(PortState.FILTERED, Reason.PORT_UNREACH), Cause.FIREWALL_REJECT),
        (result(PortState.FILTERED, Reason.ADMIN_PROHIBITED), Cause.FIREWALL_REJECT),
        (result(PortState.UNREACHABLE, Reason.HOST_UNREACH, icmp_from="198.18.0.2"), Cause.FIREWALL_REJECT),
        (result(PortState.UNREACHABLE, Reason.HOST_UNREACH, icmp_from="198.18.0.1"), Cause.HOST_UNREACHABLE),
        (result(PortState.UNREACHABLE, Reason.HOST_UNREACH), Cause.HOST_UNREACHABLE),
        (result(PortState.UNREACHABLE, Reason.NET_UNREACH), Cause.NO_ROUTE),
        (result(PortState.ERROR, Reason.DNS_FAILURE, address=None), Cause.DNS_FAILURE),
        (result(PortState.CLOSED, Reason.PORT_UNREACH, proto=Proto.UDP), Cause.NOTHING_LISTENING),
        (result(PortState.OPEN_FILTERED, Reason.NO_RESPONSE, proto=Proto.UDP), Cause.TIMEOUT),
    ],
)
def test_probe_cause(probe: ProbeResult, cause: Cause) -> None:
    assert probe_cause(probe) == cause


# --- ICMP quotes -----------------------------------------------------------------------------------

def ipv4_header(proto: int, src: str, dst: str) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, proto, 0,
                       ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)


def icmp4_unreachable(code: int, *, sender: str, proto: int, sport: int, dst: str, dport: int) -> bytes:
    quoted = ipv4_header(proto, "198.18.0.1", dst) + struct.pack("!HH", sport, dport) + b"\0" * 4
    icmp_msg = struct.pack("!BBHI", 3, code, 0, 0) + quoted
    return ipv4_header(1, sender, "198.18.0.1") + icmp_msg


def test_parse_icmp4_port_unreachable_quoting_a_tcp_probe() -> None:
    packet = icmp4_unreachable(3, sender="198.18.0.2", proto=IPPROTO_TCP, sport=41000, dst="198.18.0.2",
                               dport=8000)
    quoted = parse_icmp4_unreachable(packet)
    assert quoted is not None
    assert (quoted.proto, quoted.source_port, quoted.destination, quoted.destination_port) == (
        IPPROTO_TCP, 41000, "198.18.0.2", 8000)
    assert quoted.report == IcmpReport(family=4, code=3, sender="198.18.0.2")


def test_parse_icmp4_ignores_other_messages() -> None:
    echo_reply = ipv4_header(1, "127.0.0.1", "127.0.0.1") + struct.pack("!BBHI", 0, 0, 0, 0) + b"x" * 40
    assert parse_icmp4_unreachable(echo_reply) is None
    assert parse_icmp4_unreachable(b"\x45\x00") is None


def test_parse_icmp6_unreachable() -> None:
    quoted_header = struct.pack("!IHBB16s16s", 6 << 28, 20, IPPROTO_UDP, 64,
                                ipaddress.IPv6Address("::1").packed, ipaddress.IPv6Address("::1").packed)
    message = struct.pack("!BBHI", 1, 4, 0, 0) + quoted_header + struct.pack("!HH", 50000, 53) + b"\0" * 4
    quoted = parse_icmp6_unreachable(message, "::1")
    assert quoted is not None
    assert (quoted.proto, quoted.source_port, quoted.destination, quoted.destination_port) == (
        IPPROTO_UDP, 50000, "::1", 53)
    assert quoted.report.verdict == (PortState.FILTERED, Reason.PORT_UNREACH)


# --- report shaping ----------------------------------------------------------------------------------

def scan_of(closed: int, open_ports: tuple[int, ...] = (), filtered: int = 0) -> list[ProbeResult]:
    results = [result(PortState.CLOSED, Reason.CONN_REFUSED, port=p) for p in range(1000, 1000 + closed)]
    results += [result(PortState.FILTERED, Reason.NO_RESPONSE, port=p) for p in range(3000, 3000 + filtered)]
    results += [result(PortState.OPEN, Reason.SYN_ACK, port=p) for p in open_ports]
    return results


def test_small_targets_are_listed_in_full() -> None:
    results = scan_of(20, (22,))
    report = summarize(results)
    assert report.shown == results and report.hidden == []


def test_big_scans_count_uniform_groups_and_list_open_and_rare_rows() -> None:
    results = scan_of(1000, (22, 80), filtered=3)
    report = summarize(results)
    assert [r.port for r in report.shown] == [3000, 3001, 3002, 22, 80]
    assert len(report.hidden) == 1
    assert report.hidden[0].port_count == 1000
    assert report.hidden[0].sentence() == (
        "Not shown: 1000 closed tcp ports (conn-refused) on h (198.18.0.2); --all lists them.")
    assert summarize(results, show_all=True).shown == results


def test_exit_status_is_ok_only_when_every_port_is_open() -> None:
    assert probe_exit_status(scan_of(0, (22, 80))) == ExitStatus.OK
    assert probe_exit_status(scan_of(1, (22,))) == ExitStatus.NETWORK_SAID_NO
    assert probe_exit_status([]) == ExitStatus.NETWORK_SAID_NO
