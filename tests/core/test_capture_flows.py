"""Following connections through a capture and reading their outcome: pure, with hand-made packets."""

from __future__ import annotations

from helpers import pcap_bytes as pb

from netdiag.core.capture_flows import HEAD_ROWS, TAIL_ROWS, FlowTable
from netdiag.core.capture_verdicts import ConnectionVerdict, FlowOutcome, verdicts
from netdiag.core.catalog import Cause

C, S = "198.18.0.1", "198.18.0.2"


def seg(src: str, dst: str, sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0,
        payload: bytes = b"", window: int = 1000) -> tuple[int, float, bytes]:
    return (101, 0.0, pb.ipv4(src, dst, 6, pb.tcp(sport, dport, flags, seq, ack, payload, window)))


def timed(records: list[tuple[int, float, bytes]]) -> list[tuple[int, float, bytes]]:
    return [(link, 100.0 + i * 0.5, data) for i, (link, _, data) in enumerate(records)]


def read(records: list[tuple[int, float, bytes]],
         **kwargs: object) -> tuple[FlowTable, list[ConnectionVerdict]]:
    table = FlowTable(**kwargs)  # type: ignore[arg-type]
    table.add_records(timed(records))
    return table, verdicts(table)


def handshake(cport: int = 40000, isn: int = 1000) -> list[tuple[int, float, bytes]]:
    return [seg(C, S, cport, 80, pb.SYN, isn), seg(S, C, 80, cport, pb.SYN | pb.ACK, 5000, isn + 1),
            seg(C, S, cport, 80, pb.ACK, isn + 1, 5001)]


def test_completed_connection_with_retransmitted_data_and_a_zero_window() -> None:
    records = [*handshake(),
               seg(C, S, 40000, 80, pb.PSH | pb.ACK, 1001, 5001, b"abcd"),
               seg(C, S, 40000, 80, pb.PSH | pb.ACK, 1001, 5001, b"abcd"),  # sent again
               seg(S, C, 80, 40000, pb.ACK, 5001, 1005, window=0),
               seg(S, C, 80, 40000, pb.ACK, 5001, 1005, window=0),  # the same stall, said again
               seg(S, C, 80, 40000, pb.PSH | pb.ACK, 5001, 1005, b"xy", window=500),
               seg(S, C, 80, 40000, pb.FIN | pb.ACK, 5003, 1005),
               seg(C, S, 40000, 80, pb.FIN | pb.ACK, 1005, 5004),
               seg(S, C, 80, 40000, pb.ACK, 5004, 1006)]
    _, [v] = read(records)
    assert (v.outcome, v.cause, v.closed_by) == (FlowOutcome.COMPLETED, Cause.OK, "server")
    assert (v.bytes_to_server, v.bytes_to_client) == (4, 2)  # the retransmission is not counted twice
    assert v.retransmissions == (1, 0) and v.zero_windows == (0, 1)
    assert v.rows == ()  # closed cleanly: its segments were dropped


def test_a_kept_connection_keeps_its_first_and_last_segments() -> None:
    data = [seg(C, S, 40000, 80, pb.ACK, 1001 + i, 5001, b"x") for i in range(100)]
    records = [*handshake(), *data, seg(C, S, 40000, 80, pb.FIN | pb.ACK, 1101, 5001),
               seg(S, C, 80, 40000, pb.FIN | pb.ACK, 5001, 1102)]
    _, [v] = read(records, keep=frozenset({1}))
    assert len(v.rows) == HEAD_ROWS + TAIL_ROWS and v.rows_left_out == 105 - HEAD_ROWS - TAIL_ROWS
    assert v.rows[0][2] == pb.SYN and v.rows[-1][2] == pb.FIN | pb.ACK


def test_refused_reset_and_half_closed() -> None:
    refused = [seg(C, S, 40001, 81, pb.SYN, 1), seg(S, C, 81, 40001, pb.RST | pb.ACK, 0, 2)]
    reset = [*handshake(40002), seg(C, S, 40002, 80, pb.PSH | pb.ACK, 1001, 5001, b"hello"),
             seg(S, C, 80, 40002, pb.RST | pb.ACK, 5001, 1006)]
    half = [*handshake(40003), seg(C, S, 40003, 80, pb.FIN | pb.ACK, 1001, 5001)]
    _, found = read([*refused, *reset, *half])
    assert [(v.outcome, v.cause) for v in found] == [
        (FlowOutcome.REFUSED, Cause.NOTHING_LISTENING), (FlowOutcome.RESET, Cause.CONNECTION_RESET),
        (FlowOutcome.HALF_CLOSED, Cause.OK)]
    assert found[1].reset_by == "server" and "after 5 bytes to the server" in found[1].reading


def test_unanswered_syns_firewall_drop_only_when_the_host_is_seen() -> None:
    syns = [seg(C, S, 40000, 80, pb.SYN, 7)] * 3
    _, [alone] = read(syns)
    assert (alone.outcome, alone.cause, alone.syns) == (FlowOutcome.NO_ANSWER, Cause.TIMEOUT, 3)
    other = (101, 0.0, pb.ipv4(S, C, 17, pb.udp(53, 5000)))
    _, found = read([other, *syns])
    assert found[1].cause is Cause.FIREWALL_DROP


def test_icmp_answers_decide_by_code_and_sender() -> None:
    syn = pb.ipv4(C, S, 6, pb.tcp(40000, 80, pb.SYN, 7))
    cases = [(S, 3, Cause.FIREWALL_REJECT), (S, 13, Cause.FIREWALL_REJECT), (S, 1, Cause.FIREWALL_REJECT),
             ("198.18.0.254", 1, Cause.HOST_UNREACHABLE), ("198.18.0.254", 0, Cause.NO_ROUTE)]
    for sender, code, cause in cases:
        icmp = (101, 0.0, pb.ipv4(sender, C, 1, pb.icmp4_unreachable(code, syn)))
        _, [v] = read([(101, 0.0, syn), icmp])
        assert (v.outcome, v.cause, v.icmp_from) == (FlowOutcome.UNREACHABLE, cause, sender), (sender, code)


def test_udp_flows() -> None:
    query = pb.ipv4(C, S, 17, pb.udp(5000, 53, b"q"))
    answer = (101, 0.0, pb.ipv4(S, C, 17, pb.udp(53, 5000, b"a")))
    closed = pb.ipv4(C, S, 17, pb.udp(5001, 9))
    unreachable = (101, 0.0, pb.ipv4(S, C, 1, pb.icmp4_unreachable(3, closed)))
    _, found = read([(101, 0.0, query), answer, (101, 0.0, closed), unreachable])
    assert [(v.proto, v.outcome, v.cause) for v in found] == [
        ("udp", FlowOutcome.ANSWERED, Cause.OK), ("udp", FlowOutcome.UNREACHABLE, Cause.NOTHING_LISTENING)]


def test_port_reuse_starts_a_new_connection_and_numbers_follow_first_packets() -> None:
    first = [*handshake(40000, 1000), seg(C, S, 40000, 80, pb.RST, 1001)]
    second = handshake(40000, 9000)
    _, found = read([*first, *second])
    assert [(v.number, v.outcome) for v in found] == [(1, FlowOutcome.RESET), (2, FlowOutcome.OPEN)]


def test_connection_already_open_when_the_capture_began() -> None:
    _, [v] = read([seg(S, C, 80, 40000, pb.ACK, 5001, 1001, b"data")])
    assert v.outcome is FlowOutcome.OPEN and not v.seen_from_start
    assert v.server == (S, 80) and "already open" in v.reading


def test_flow_cap_counts_what_it_leaves_out() -> None:
    records = [seg(C, S, 40000 + i, 80, pb.SYN) for i in range(5)]
    table, found = read(records, max_flows=3)
    assert len(found) == 3 and table.untracked_packets == 2
