"""The capture adapters: scapy packets into Segments (in memory, no root), real captures on lo (root)."""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import threading
import time
from collections.abc import Iterator
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

import pytest
from helpers.waiting import wait_until

from netdiag.adapters.capture.live import ConnectStatus, capture_connection
from netdiag.adapters.capture.scapy_glue import load_scapy, packet_to_segment, route_to, tcp_options
from netdiag.core.handshake import Outcome, analyse_connection


def _offline(packets: list[object]) -> list[object]:
    """Run packets through scapy's own sniff(offline=...) with an lfilter: no root, no tcpdump."""
    from scapy.sendrecv import sniff

    return list(sniff(offline=packets, lfilter=lambda p: packet_to_segment(p) is not None))


def test_packets_built_in_memory_become_segments() -> None:
    load_scapy(ipv6=True)
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    syn = Ether() / IP(src="127.0.0.1", dst="127.0.0.1") / TCP(
        sport=50000, dport=8000, flags="S", seq=7, window=65495,
        options=[("MSS", 65495), ("SAckOK", b""), ("Timestamp", (11, 0)), ("NOP", None), ("WScale", 7)])
    data = Ether() / IP(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=50000, dport=8000, flags="PA",
                                                                   seq=8, ack=99) / Raw(b"hi")
    v6 = Ether() / IPv6(src="::1", dst="::1") / TCP(sport=1, dport=2, flags="SA", seq=1, ack=8)
    arp_free = [Ether(bytes(p)) for p in (syn, data, v6)]  # as if read from the wire
    segments = [packet_to_segment(p) for p in _offline(arp_free)]
    first, second, third = segments
    assert first is not None and second is not None and third is not None
    assert (first.src, first.sport, first.dport, first.flags, first.seq, first.length) == (
        "127.0.0.1", 50000, 8000, "S", 7, 0)
    assert first.options.mss == 65495 and first.options.wscale == 7
    assert first.options.sack_permitted and first.options.timestamp == (11, 0)
    assert (second.flag_names, second.length, second.ack) == ("PSH,ACK", 2, 99)
    assert (third.src, third.flags, third.length) == ("::1", "SA", 0)


def test_ethernet_padding_is_not_payload() -> None:
    """A 54-byte ACK is padded to 60 bytes on Ethernet: the padding must not count as data."""
    load_scapy()
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    frame = bytes(Ether() / IP(src="198.18.0.1", dst="198.18.0.2") / TCP(flags="A")) + b"\x00" * 6
    segment = packet_to_segment(Ether(frame))
    assert segment is not None and segment.length == 0


def test_non_tcp_is_ignored_and_options_parse() -> None:
    load_scapy()
    from scapy.layers.inet import IP, UDP

    assert packet_to_segment(IP() / UDP()) is None
    assert tcp_options([("NOP", None), ("SAck", (1, 2))]).describe() == ""


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """An echo-and-close server on 127.0.0.1:0 in a thread (a real listening socket)."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with server:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while chunk := conn.recv(4096):
                    conn.sendall(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()
    with contextlib.suppress(OSError):
        server.shutdown(socket.SHUT_RDWR)  # wakes accept() if the test never connected
    server.close()
    thread.join(5)


@pytest.mark.root
def test_route_to_loopback_is_lo() -> None:
    assert route_to("127.0.0.1").interface == "lo"


@pytest.mark.root
def test_capture_of_an_accepted_connection_has_every_segment_once(echo_server: tuple[str, int]) -> None:
    host, port = echo_server
    result = capture_connection(host, port, message=b"hello\n", timeout=3, keep_packets=True)
    assert result.status is ConnectStatus.CONNECTED and result.interface == "lo"
    assert result.kernel_sent is not None and result.kernel_received is not None
    assert len(result.segments) == result.kernel_sent + result.kernel_received, "missed or duplicated"
    assert result.missed == 0 and len(result.packets) == len(result.segments)
    syn, syn_ack, ack = result.segments[:3]
    assert (syn.flags, syn_ack.flags, ack.flags) == ("S", "SA", "A")
    assert syn_ack.ack == (syn.seq + 1) % 2**32
    assert ack.seq == (syn.seq + 1) % 2**32 and ack.ack == (syn_ack.seq + 1) % 2**32
    analysis = analyse_connection(result.segments, client=result.client, server=result.server)
    assert analysis.outcome is Outcome.ACCEPTED
    assert (analysis.bytes_to_server, analysis.bytes_to_client) == (6, 6)
    assert sum(s.has("F") for s in result.segments) == 2


@pytest.mark.root
def test_capture_of_a_refused_connection() -> None:
    with socket.socket() as reserved:  # bound, not listening: the port answers RST and stays ours
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = capture_connection("127.0.0.1", port, timeout=2)
    assert result.status is ConnectStatus.REFUSED
    assert [s.flags for s in result.segments] == ["S", "RA"]
    assert result.segments[1].ack == (result.segments[0].seq + 1) % 2**32


def _hammer(server: socket.socket, made: Synchronized[int], stop: Event) -> None:
    """Connect to ``server`` and accept the connection, over and over, in one thread of a child process.

    Accepting in the same loop keeps the backlog empty whatever the parent does, so no SYN is dropped
    and the count rises while the parent captures (a serving thread in the test process could starve
    behind the GIL, fill the backlog and stall the client on SYN retransmissions). Bounded in count
    and time.
    """
    port = server.getsockname()[1]
    deadline = time.monotonic() + 20
    while not stop.is_set() and made.value < 20_000 and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 2):
            conn, _ = server.accept()
            conn.close()  # the server side closes first: TIME_WAIT stays there, client ports are freed
            made.value += 1


@pytest.mark.root
def test_other_connections_to_the_same_port_are_not_caught() -> None:
    """Another process hammers the same server during the capture: only our 4-tuple is recorded."""
    context = multiprocessing.get_context("fork")
    made = context.Value("i", 0)
    stop = context.Event()
    with socket.create_server(("127.0.0.1", 0), backlog=128) as server:
        port = server.getsockname()[1]
        hammer = context.Process(target=_hammer, args=(server, made, stop), daemon=True)
        hammer.start()
        try:
            wait_until(lambda: made.value >= 3, timeout=10, what="background connections")
            before = made.value
            result = capture_connection("127.0.0.1", port, timeout=3)
            during = made.value - before
        finally:
            stop.set()
            hammer.join(10)
            if hammer.is_alive():
                hammer.kill()
    assert during > 0, "the background client kept connecting during the capture"
    assert result.status is ConnectStatus.CONNECTED
    ours = {(result.client[1], port), (port, result.client[1])}
    assert {(s.sport, s.dport) for s in result.segments} <= ours
    assert result.missed == 0 and result.segments[0].is_syn


@pytest.mark.root
def test_capture_over_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as server:
        port = server.getsockname()[1]

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                while conn.recv(4096):
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        result = capture_connection("::1", port, message=b"v6\n", timeout=3)
        thread.join(5)
    assert result.status is ConnectStatus.CONNECTED and result.interface == "lo"
    assert result.client[0] == "::1" and result.missed == 0
    assert [s.flags for s in result.segments[:3]] == ["S", "SA", "A"]
    analysis = analyse_connection(result.segments, client=result.client, server=result.server)
    assert analysis.outcome is Outcome.ACCEPTED and analysis.bytes_to_server == 3
