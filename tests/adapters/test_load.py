"""The load generator against small scripted loopback servers: honest ones and ones that misbehave."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

from netdiag.adapters.load import resolve_target, run_load
from netdiag.core.catalog import Cause
from netdiag.core.failures import NetworkFailure, ResolveFailure, UsageError
from netdiag.core.loadplan import LoadPlan
from netdiag.core.loadstats import ErrorKind
from netdiag.render.load_report import load_record

Handler = Callable[[socket.socket], None]


@contextmanager
def tcp_server(handler: Handler) -> Iterator[int]:
    """A thread-per-connection server on 127.0.0.1:0 running ``handler`` for every client."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_guarded, args=(handler, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _guarded(handler: Handler, conn: socket.socket) -> None:
    conn.settimeout(10)
    with conn, suppress(OSError):
        handler(conn)


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def corrupting_echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data[:-2] + b"X" + data[-1:])


def echo_once_then_close(conn: socket.socket) -> None:
    data = conn.recv(65536)
    conn.sendall(data[: len(data) // 2])


def reset_after_first(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_clean_echo_counts_requests_and_bytes() -> None:
    with tcp_server(echo) as port:
        report = run_load(LoadPlan(host="127.0.0.1", port=port, clients=3, duration=0.5, size=100))
    assert report.error_count == 0, report.first_error
    assert report.requests > 10
    assert report.bytes_sent == report.bytes_received == report.requests * 100
    assert report.connections == 3
    assert 0 < report.latency.p50 <= report.latency.p99 <= report.latency.max


def test_large_requests_are_reassembled_from_many_chunks() -> None:
    with tcp_server(echo) as port:
        report = run_load(LoadPlan(host="127.0.0.1", port=port, clients=2, duration=0.5, size=300_000))
    assert report.error_count == 0, report.first_error
    assert report.requests >= 2


def test_a_corrupted_byte_is_a_mismatch() -> None:
    with tcp_server(corrupting_echo) as port:
        report = run_load(LoadPlan(host="127.0.0.1", port=port, clients=1, duration=0.3, size=50))
    assert report.errors.get(ErrorKind.MISMATCH, 0) >= 1
    assert report.requests == 0
    assert report.first_error is not None and "byte 48" in report.first_error


def test_an_early_close_and_a_reset_are_counted_by_kind() -> None:
    with tcp_server(echo_once_then_close) as port:
        closed = run_load(LoadPlan(host="127.0.0.1", port=port, clients=1, duration=0.3, size=50))
    with tcp_server(reset_after_first) as port:
        reset = run_load(LoadPlan(host="127.0.0.1", port=port, clients=1, duration=0.3, size=50))
    assert closed.errors.get(ErrorKind.CLOSED, 0) >= 1
    assert reset.errors.get(ErrorKind.RESET, 0) >= 1
    assert closed.requests == reset.requests == 0


def test_rate_paces_the_clients() -> None:
    with tcp_server(echo) as port:
        report = run_load(LoadPlan(host="127.0.0.1", port=port, clients=2, duration=1.0, rate=40))
    assert report.error_count == 0
    assert 30 <= report.requests <= 44  # 40/s for 1 s, first request at t=0


def test_nothing_listening_fails_once_with_the_catalog_entry() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))  # bound, not listening: connect() is refused
    port = holder.getsockname()[1]
    try:
        with pytest.raises(NetworkFailure) as info:
            run_load(LoadPlan(host="127.0.0.1", port=port, duration=1))
    finally:
        holder.close()
    assert info.value.explanation is not None
    assert info.value.explanation.cause is Cause.NOTHING_LISTENING
    assert (info.value.cause, info.value.host, info.value.port) == (
        Cause.NOTHING_LISTENING, "127.0.0.1", port)


def test_a_documentation_address_is_refused_without_connecting() -> None:
    with pytest.raises(UsageError, match="--allow-remote"):
        resolve_target(LoadPlan(host="192.0.2.1", port=7), allow_remote=False)
    assert resolve_target(LoadPlan(host="192.0.2.1", port=7), allow_remote=True) == [
        (socket.AF_INET, "192.0.2.1")]


def test_unresolvable_name_is_a_dns_failure() -> None:
    with pytest.raises(NetworkFailure) as info:
        resolve_target(LoadPlan(host="no-such-host.invalid", port=7), allow_remote=False)
    assert info.value.explanation is not None
    assert info.value.explanation.cause is Cause.DNS_FAILURE


def test_an_over_long_label_is_the_dns_sentence_not_a_unicode_error() -> None:
    """The idna codec refuses a label over 63 characters with UnicodeError, before any query: load
    translates it as connect and probe do (one ``lookup``)."""
    host = "a" * 64 + ".example"
    for udp in (False, True):
        with pytest.raises(ResolveFailure) as info:
            resolve_target(LoadPlan(host=host, port=7, udp=udp), allow_remote=False)
        assert info.value.message.startswith(f"Cannot resolve '{host}': it is not a valid host name (")
        assert (info.value.cause, info.value.host, info.value.port) == (Cause.DNS_FAILURE, host, 7)
        assert info.value.explanation is not None
        assert info.value.explanation.cause is Cause.DNS_FAILURE


@contextmanager
def udp_echo(transform: Callable[[bytes], bytes | None] = lambda d: d) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65536)
            except TimeoutError:
                continue
            reply = transform(data)
            if reply is not None:
                sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


def test_udp_echo_and_udp_loss() -> None:
    with udp_echo() as port:
        good = run_load(LoadPlan(host="127.0.0.1", port=port, clients=2, duration=0.4, udp=True))
    assert good.error_count == 0 and good.requests > 10
    seen = {"n": 0}

    def drop_every_third(data: bytes) -> bytes | None:
        seen["n"] += 1
        return None if seen["n"] % 3 == 0 and seen["n"] > 1 else data

    with udp_echo(drop_every_third) as port:
        lossy = run_load(LoadPlan(host="127.0.0.1", port=port, clients=1, duration=0.6, udp=True,
                                  timeout=0.1))
    assert lossy.errors.get(ErrorKind.NO_ANSWER, 0) >= 1  # datagram words: no answer, not a TCP timeout
    assert not lossy.errors.get(ErrorKind.TIMEOUT, 0)
    assert lossy.requests >= 1


def test_udp_port_with_nothing_bound_is_port_unreachable_not_refused() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    holder.close()
    with pytest.raises(NetworkFailure) as info:
        run_load(LoadPlan(host="127.0.0.1", port=port, duration=1, udp=True, timeout=1))
    explanation = info.value.explanation
    assert explanation is not None and explanation.cause is Cause.NOTHING_LISTENING
    assert explanation.title == "UDP port unreachable"
    assert f"no UDP socket is bound to 127.0.0.1:{port}" in info.value.message
    words = " ".join([info.value.message, explanation.meaning, *explanation.likely_causes,
                      *explanation.fixes])
    assert "refused" not in words and "reset" not in words and "listen()" not in words


def test_udp_server_that_receives_and_never_answers_is_named_as_such() -> None:
    with udp_echo(lambda _data: None) as port, pytest.raises(NetworkFailure) as info:
        run_load(LoadPlan(host="127.0.0.1", port=port, duration=1, udp=True, timeout=0.3))
    assert "the server received the datagram and sent nothing back" in info.value.message
    assert f"UDP socket bound to 127.0.0.1:{port}" in info.value.message
    assert info.value.explanation is not None and "accept queue" not in info.value.explanation.meaning


def test_udp_reply_server_is_a_mismatch_that_shows_its_answer() -> None:
    with udp_echo(lambda data: b"closed" if data == b"close" else b"accepted") as port:
        report = run_load(LoadPlan(host="127.0.0.1", port=port, clients=1, duration=0.3, udp=True))
    assert report.errors.get(ErrorKind.MISMATCH, 0) > 0 and report.requests == 0
    assert set(report.errors) == {ErrorKind.MISMATCH}
    assert report.first_error is not None and "the server answered 'accepted' (8 bytes)" in report.first_error
    assert load_record(report)["latency_ms"] == dict.fromkeys(("p50", "p90", "p99", "max", "mean"))


def accepted_per_message(conn: socket.socket) -> None:
    """The lab's reply server: ``accepted`` for each message, never an echo."""
    while conn.recv(65536):
        conn.sendall(b"accepted")


def test_tcp_reply_server_is_a_mismatch_at_once_not_a_timeout() -> None:
    with tcp_server(accepted_per_message) as port:
        report = run_load(LoadPlan(host="127.0.0.1", port=port, clients=2, duration=0.3, timeout=5))
    assert report.errors.get(ErrorKind.MISMATCH, 0) > 0
    assert not report.errors.get(ErrorKind.TIMEOUT, 0)  # a 5 s timeout in a 0.3 s run: none waited for it
    assert report.first_error is not None and "the server answered 'accepted'" in report.first_error


def black_hole(conn: socket.socket) -> None:
    """Accepts and reads, never answers: a hung server."""
    while conn.recv(65536):
        pass


def test_a_server_that_never_answers_still_ends_the_run() -> None:
    with tcp_server(black_hole) as port:
        plan = LoadPlan(host="127.0.0.1", port=port, clients=3, duration=0.3, size=50, timeout=0.3)
        report = run_load(plan)
    assert report.requests == 0
    assert report.errors.get(ErrorKind.TIMEOUT, 0) >= 3  # every client counted its unanswered request
    assert load_record(report)["latency_ms"]["p50"] is None  # no request succeeded: no latency, not 0
    assert not report.interrupted
    assert report.elapsed <= plan.hard_stop + 1.0  # the bound is the feature: it stops by itself


def test_a_timeout_is_counted_with_its_seconds_not_an_option_name() -> None:
    """The adapter says what happened (no answer within 0.5 s); which option sets it is the CLI's word."""
    from netdiag.adapters.load.clients import ClientTally, count_exception

    tally = ClientTally()
    count_exception(tally, TimeoutError(), "echo", 0.5)
    count_exception(tally, ConnectionRefusedError(111, "Connection refused"), "connect", 0.5)
    assert tally.errors == {ErrorKind.TIMEOUT: 1, ErrorKind.REFUSED: 1}
    assert tally.first_error == "timeout: echo: no answer within 0.5 s"
