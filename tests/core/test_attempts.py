"""The pure side of ``listen --observe``: which SYNs came to nothing, why, bounded and rate-limited."""

from __future__ import annotations

from netdiag.core.attempts import (
    Attempt,
    AttemptKind,
    AttemptReason,
    AttemptWatch,
    LineLimiter,
    describe_attempt,
    describe_repeated,
    with_firewall,
)
from netdiag.core.handshake import Segment
from netdiag.core.observations import FirewallObservation, FirewallRule

SERVER = "198.18.0.2"
PORT = 8000


def seg(t: float, flags: str, *, inbound: bool = True, client: str = "198.18.0.1", cport: int = 50000,
        local: str = SERVER) -> Segment:
    if inbound:
        return Segment(time=t, src=client, sport=cport, dst=local, dport=PORT, flags=flags, seq=0, ack=0,
                       length=0, window=0)
    return Segment(time=t, src=local, sport=PORT, dst=client, dport=cport, flags=flags, seq=0, ack=0,
                       length=0, window=0)


def watch(bound: str = "0.0.0.0", **kwargs: float) -> AttemptWatch:
    return AttemptWatch(PORT, bound, {SERVER, "127.0.0.1"}, **kwargs)  # type: ignore[arg-type]


def test_a_retransmitted_syn_with_no_answer_is_unanswered() -> None:
    w = watch()
    assert w.feed(seg(0.0, "S"), "veth0") == []
    [attempt] = w.feed(seg(1.0, "S"), "veth0")
    assert attempt.kind is AttemptKind.UNANSWERED_SYN
    assert attempt.peer == ("198.18.0.1", 50000) and attempt.interface == "veth0" and attempt.syns == 2
    assert w.feed(seg(3.0, "S"), "veth0") == []  # reported once per attempt


def test_a_completed_handshake_is_forgotten_silently() -> None:
    w = watch()
    events = [w.feed(s, "veth0") for s in (seg(0, "S"), seg(0.001, "SA", inbound=False), seg(0.002, "A"))]
    assert events == [[], [], []]
    assert w.pending == 0
    assert w.expire(100.0, idle=True) == []


def test_a_single_syn_is_reported_only_once_the_capture_is_idle_long_enough() -> None:
    w = watch(answer_wait=3.0)
    w.feed(seg(0.0, "S"), "lo")
    assert w.expire(5.0, idle=False) == []  # still reading: the answer may be queued behind
    assert w.expire(2.0, idle=True) == []
    [attempt] = w.expire(3.5, idle=True)
    assert attempt.kind is AttemptKind.UNANSWERED_SYN and attempt.syns == 1


def test_a_retransmitted_syn_ack_means_the_handshake_did_not_complete() -> None:
    w = watch()
    w.feed(seg(0.0, "S"), "veth0")
    assert w.feed(seg(0.001, "SA", inbound=False), "veth0") == []
    [attempt] = w.feed(seg(1.0, "SA", inbound=False), "veth0")
    assert attempt.kind is AttemptKind.HANDSHAKE_INCOMPLETE and attempt.reason is AttemptReason.NO_ACK


def test_a_client_reset_after_the_syn_ack_is_forgotten_silently() -> None:
    """Without the ACKs (the capture holds SYNs and RSTs only) a RST after the SYN-ACK may end a connection
    just opened: nothing is claimed."""
    w = watch()
    w.feed(seg(0.0, "S"), "veth0")
    w.feed(seg(0.001, "SA", inbound=False), "veth0")
    assert w.feed(seg(0.002, "R"), "veth0") == []
    assert w.pending == 0


def test_a_syn_ack_not_retransmitted_means_the_handshake_completed() -> None:
    """The capture of SYNs and RSTs only never shows the ACK: the SYN-ACK's silence stands for it."""
    w = watch(synack_wait=1.5)
    w.feed(seg(0.0, "S"), "veth0")
    w.feed(seg(0.001, "SA", inbound=False), "veth0")
    assert w.expire(1.0, idle=True) == [] and w.pending == 1
    assert w.expire(1.6, idle=False) == [] and w.pending == 0
    assert w.expire(10.0, idle=True) == []


def test_a_reset_to_an_address_the_server_is_not_bound_to() -> None:
    w = watch(bound="127.0.0.1")
    w.feed(seg(0.0, "S"), "veth0")
    [attempt] = w.feed(seg(0.001, "RA", inbound=False), "veth0")
    assert attempt.kind is AttemptKind.RESET_SENT and attempt.reason is AttemptReason.NOT_BOUND
    text = describe_attempt({**attempt.fields(), "event": "reset-sent"})
    assert text == ("RST sent: nothing listens on the address the client used, 198.18.0.2:8000 (the "
                    "server is bound to 127.0.0.1)")


def test_a_reset_where_the_server_listens_is_not_the_listeners() -> None:
    w = watch(bound="0.0.0.0")
    w.feed(seg(0.0, "S"), "veth0")
    [attempt] = w.feed(seg(0.001, "R", inbound=False), "veth0")
    assert attempt.reason is AttemptReason.FIREWALL_RESET


def test_every_loopback_address_is_local() -> None:
    w = watch(bound="127.0.0.1")
    w.feed(seg(0.0, "S", client="127.0.0.1", local="127.0.0.2"), "lo")
    [attempt] = w.feed(seg(0.001, "RA", inbound=False, client="127.0.0.1", local="127.0.0.2"), "lo")
    assert attempt.reason is AttemptReason.NOT_BOUND


def test_syns_leaving_this_host_are_not_attempts_on_the_server() -> None:
    w = watch()
    outgoing = Segment(time=0, src=SERVER, sport=40000, dst="192.0.2.9", dport=PORT, flags="S", seq=0,
                       ack=0, length=0, window=0)
    w.feed(outgoing, "veth0")
    assert w.pending == 0


def test_pending_attempts_are_bounded_by_count_and_age() -> None:
    w = watch(max_pending=100, max_age=10.0)
    for i in range(1000):
        w.feed(seg(i / 1000, "S", cport=10000 + i), "veth0")
    assert w.pending == 100 and w.forgotten == 900
    w.expire(20.0, idle=False)
    assert w.pending == 0


def attempt(client: str, port: int = 1) -> Attempt:
    return Attempt(kind=AttemptKind.UNANSWERED_SYN, peer=(client, port), local=(SERVER, PORT),
                   interface="veth0", syns=2, reason=AttemptReason.NO_RULE)


def test_the_limiter_lets_three_per_address_through_and_sums_up_the_rest() -> None:
    limiter = LineLimiter(window=5.0, per_source=3, per_window=10)
    shown = [limiter.admit(attempt("198.18.0.1", i), 0.01 * i)[0] for i in range(50)]
    assert shown.count(True) == 3 and shown[:3] == [True] * 3
    assert limiter.tick(4.0) == []
    [summary] = limiter.tick(5.0)
    assert (summary.count, summary.sources, summary.source) == (47, 1, "198.18.0.1")
    assert describe_repeated(summary.fields()) == "... 47 more SYN(s) from 198.18.0.1 not answered (in 5 s)"
    assert limiter.admit(attempt("198.18.0.1"), 6.0)[0]  # a new window


def test_the_limiter_bounds_lines_and_addresses_in_a_flood_from_many_sources() -> None:
    limiter = LineLimiter(window=5.0, per_source=3, per_window=10, max_sources=100)
    shown = sum(limiter.admit(attempt(f"10.0.{i // 250}.{i % 250}"), 0.0)[0] for i in range(5000))
    assert shown == 10
    [summary] = limiter.flush()
    assert summary.count == 4990 and summary.source is None and summary.sources == 101
    assert "from 101 addresses" in describe_repeated(summary.fields())


def rules(*found: FirewallRule) -> FirewallObservation:
    return FirewallObservation(readable=True, tools=("iptables",), rules=found)


def test_the_input_rule_that_drops_is_named() -> None:
    out = FirewallRule(f"-A OUTPUT -p tcp --sport {PORT} -j DROP", "drop", "iptables", "out")
    dropping = FirewallRule(f"-A INPUT -p tcp -m tcp --dport {PORT} -j DROP", "drop", "iptables", "in")
    named = with_firewall(attempt("198.18.0.1"), rules(out, dropping))
    assert named.reason is AttemptReason.FIREWALL_DROP and named.rule == dropping.text
    text = describe_attempt({**named.fields(), "event": "unanswered-syn"})
    assert text == ("SYN to 198.18.0.2:8000 arrived on veth0, sent 2 times and was not answered (this "
                    f"host's firewall: rule -A INPUT -p tcp -m tcp --dport {PORT} -j DROP)")


def test_no_rule_and_unreadable_rules_say_so() -> None:
    plain = with_firewall(attempt("198.18.0.1"), rules())
    assert plain.reason is AttemptReason.NO_RULE and plain.rule is None
    assert "full accept queue" in describe_attempt({**plain.fields(), "event": "unanswered-syn"})
    hidden = with_firewall(attempt("198.18.0.1"), FirewallObservation(readable=False, note="needs root"))
    assert hidden.reason is AttemptReason.FIREWALL_UNREADABLE
    assert "could not be read" in describe_attempt({**hidden.fields(), "event": "unanswered-syn"})


def test_a_reject_rule_explains_a_reset_sent_for_the_listener() -> None:
    reset = Attempt(kind=AttemptKind.RESET_SENT, peer=("198.18.0.1", 1), local=(SERVER, PORT),
                    interface="veth0", syns=1, reason=AttemptReason.FIREWALL_RESET, bound="0.0.0.0")
    rule = FirewallRule(f"-A INPUT -p tcp --dport {PORT} -j REJECT --reject-with tcp-reset", "reject",
                        "iptables", "in")
    named = with_firewall(reset, rules(rule))
    text = describe_attempt({**named.fields(), "event": "reset-sent"})
    assert text.startswith("RST sent to the SYN to 198.18.0.2:8000 by this host's firewall, not the listener")
    assert rule.text in text


def test_an_attempt_is_reported_once_even_when_the_client_resets_later() -> None:
    w = watch(answer_wait=3.0)
    w.feed(seg(0.0, "S"), "veth0")
    w.feed(seg(0.001, "SA", inbound=False), "veth0")
    [attempt] = w.feed(seg(1.0, "SA", inbound=False), "veth0")
    assert attempt.reason is AttemptReason.NO_ACK
    assert w.feed(seg(3.0, "R"), "veth0") == []


def test_a_full_accept_queue_explains_the_silence() -> None:
    from netdiag.core.attempts import with_queue
    from netdiag.core.socket_table import Listener

    full = Listener(4, "0.0.0.0", PORT, queued=5, backlog=4)
    named = with_queue(attempt("198.18.0.1"), [Listener(4, "127.0.0.1", PORT, queued=9, backlog=4), full])
    assert named.reason is AttemptReason.ACCEPT_QUEUE_FULL and named.queue == (5, 4)
    assert with_firewall(named, rules()) == named  # the queue, not the firewall
    text = describe_attempt({**named.fields(), "event": "unanswered-syn"})
    assert text.endswith("(the accept queue is full: 5 connections wait for accept(), backlog 4; the server "
                         "does not accept fast enough)")
    not_full = Listener(4, "0.0.0.0", PORT, queued=4, backlog=4)
    assert with_queue(attempt("198.18.0.1"), [not_full]).reason is AttemptReason.NO_RULE
