"""The connect adapter on real loopback sockets: exact bytes on the wire, replies joined, events in order."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest

from netdiag.adapters.client import ConnectFailure, exchange_messages, open_connection
from netdiag.core.catalog import Cause
from netdiag.core.client_events import HalfClosed, NoReply, PeerClosed, Received, Sent, Unsent
from netdiag.core.failures import NetworkFailure


@contextmanager
def one_shot_server(handler: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback server that runs ``handler`` on its first connection in a thread; yields the port."""
    server = socket.create_server(("127.0.0.1", 0))
    errors: list[BaseException] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            try:
                handler(conn)
            except OSError as exc:  # recorded: a test that expects a clean run checks it
                errors.append(exc)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        yield server.getsockname()[1]
    finally:
        worker.join(timeout=10)
        server.close()
    assert not worker.is_alive()


def read_until_eof(conn: socket.socket, size: int = 1) -> bytes:
    """Read with tiny recv sizes, so any framing the client added would show."""
    data = bytearray()
    while chunk := conn.recv(size):
        data += chunk
    return bytes(data)


def test_messages_go_out_exactly_as_given_and_each_waits_for_its_reply() -> None:
    received: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        for _ in range(2):
            received.append(conn.recv(1024))  # the lab's framing: one recv per message
            conn.sendall(b"accepted")
        received.append(read_until_eof(conn))

    with one_shot_server(handler) as port, open_connection("127.0.0.1", port) as connection:
        events = list(exchange_messages(connection, [b"hello", b"world"], timeout=5))
    assert received == [b"hello", b"world", b""]
    assert events == [Sent(b"hello"), Received(b"accepted"), Sent(b"world"), Received(b"accepted"),
                      HalfClosed(), PeerClosed()]


def test_a_reply_sent_in_many_small_segments_is_reported_as_one() -> None:
    def handler(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert conn.recv(1024) == b"x"
        for byte in b"accepted":
            conn.send(bytes([byte]))
        read_until_eof(conn)

    with one_shot_server(handler) as port, open_connection("127.0.0.1", port) as connection:
        events = list(exchange_messages(connection, [b"x"], timeout=5, settle=0.5))
    assert Received(b"accepted") in events


def test_a_greeting_that_arrives_first_is_reported_before_the_message_is_sent() -> None:
    greeted = threading.Event()

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"You are connected")
        greeted.set()
        assert conn.recv(1024) == b"hi"

    with one_shot_server(handler) as port, open_connection("127.0.0.1", port) as connection:
        assert greeted.wait(5)
        events = list(exchange_messages(connection, [b"hi"], timeout=5))
    assert events[0] == Received(b"You are connected")
    assert events[1] == Sent(b"hi")
    assert events[-1] == PeerClosed()


def test_a_close_before_all_messages_are_sent_names_the_unsent_ones() -> None:
    def handler(conn: socket.socket) -> None:
        assert conn.recv(1024) == b"one"  # then close without answering

    with one_shot_server(handler) as port, open_connection("127.0.0.1", port) as connection:
        events = list(exchange_messages(connection, [b"one", b"two"], timeout=5))
    assert events == [Sent(b"one"), PeerClosed(), Unsent((b"two",))]


def test_silence_is_a_no_reply_event_then_the_half_close_ends_the_session() -> None:
    def handler(conn: socket.socket) -> None:
        assert read_until_eof(conn) == b"one"  # a sink: reads everything, answers nothing

    with one_shot_server(handler) as port, open_connection("127.0.0.1", port) as connection:
        events = list(exchange_messages(connection, [b"one"], timeout=0.2))
    assert events == [Sent(b"one"), NoReply(b"one", 0.2), HalfClosed(), PeerClosed()]


def test_reset_during_the_session_is_a_network_failure_with_the_reset_cause() -> None:
    def handler(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    with one_shot_server(handler) as port, open_connection("127.0.0.1", port) as connection, \
            pytest.raises(NetworkFailure) as failure:
        list(exchange_messages(connection, [b"hi"], timeout=5))
    assert "reset" in failure.value.message
    assert failure.value.explanation is not None
    assert failure.value.explanation.cause == Cause.CONNECTION_RESET


def test_refused_connection_keeps_the_attempt_and_explains_nothing_listening() -> None:
    with socket.socket() as reserved:  # bound, not listening: connect() is refused, the port stays ours
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        with pytest.raises(NetworkFailure) as failure:
            open_connection("127.0.0.1", port, timeout=2)
    assert "refused" in failure.value.message
    assert failure.value.explanation is not None
    assert failure.value.explanation.cause == Cause.NOTHING_LISTENING
    assert f"--port {port}" in " ".join(failure.value.explanation.fixes)
    assert (failure.value.cause, failure.value.host, failure.value.port) == (
        Cause.NOTHING_LISTENING, "127.0.0.1", port)
    assert failure.value.errno == errno.ECONNREFUSED


def test_a_name_that_does_not_resolve_is_a_connect_failure_with_no_attempt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolution and its translation are ``lookup``'s; connect adds its own sentence and fills the target
    into the explanation (the resolver is a stand-in: no DNS query)."""
    from netdiag.adapters.net import resolve

    def no_such_name(*_args: object) -> NoReturn:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(resolve.socket, "getaddrinfo", no_such_name)
    with pytest.raises(ConnectFailure) as caught:
        open_connection("nothing.invalid", 8000, timeout=1)
    failure = caught.value
    assert failure.message == ("Cannot resolve 'nothing.invalid': Name or service not known. "
                               "No connection was attempted.")
    assert failure.attempts == []
    assert (failure.cause, failure.errno, failure.host, failure.port) == (
        Cause.DNS_FAILURE, socket.EAI_NONAME, "nothing.invalid", 8000)
    assert failure.explanation is not None
    assert any("getent hosts nothing.invalid" in fix for fix in failure.explanation.fixes)


def test_an_over_long_label_is_a_dns_failure_not_a_traceback() -> None:
    host = "a" * 64 + ".example"  # the idna codec refuses it before any query
    with pytest.raises(ConnectFailure) as caught:
        open_connection(host, 8000, timeout=1)
    assert caught.value.message.startswith(f"Cannot resolve '{host}': it is not a valid host name (")
    assert caught.value.message.endswith(". No connection was attempted.")
    assert caught.value.cause is Cause.DNS_FAILURE and caught.value.attempts == []


def test_udp_port_unreachable_is_reported_as_such() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
    # The port is free again (if another program grabbed it meanwhile, no ICMP error would come and the
    # test would fail, not pass).
    with open_connection("127.0.0.1", port, udp=True) as connection, \
            pytest.raises(NetworkFailure) as failure:
        list(exchange_messages(connection, [b"ping"], timeout=5))
    assert "UDP port unreachable" in failure.value.message


def test_timings_are_measured() -> None:
    def handler(conn: socket.socket) -> None:
        conn.sendall(conn.recv(1024))

    with one_shot_server(handler) as port, open_connection("localhost", port) as connection:
        list(exchange_messages(connection, [b"x"], timeout=5))
    timings = connection.timings
    assert timings.resolve is not None and timings.connect is not None
    assert timings.first_reply is not None and timings.first_reply > 0
    assert [a.cause for a in connection.attempts][-1] == Cause.OK


def test_out_of_file_descriptors_is_a_connect_failure_not_a_traceback() -> None:
    """socket() itself can fail (EMFILE here; EAFNOSUPPORT without IPv6): an attempt, then a failure."""
    code = """
import os, resource, socket, sys
from netdiag.adapters.client import ConnectFailure, open_connection
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
socket.getaddrinfo("127.0.0.1", 9)  # loads what name resolution imports lazily, while files can open
held = []
try:
    while True:
        held.append(os.dup(0))
except OSError:
    pass
try:
    open_connection("127.0.0.1", 9, timeout=1)
except ConnectFailure as failure:
    print(failure.attempts[0].detail)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no socket: Too many open files"
