"""Every mode over real loopback sockets, on both engines, read with tiny recv sizes to stress framing."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import psutil
import pytest
from helpers.cli import netdiag_env
from helpers.servers import (
    ServerHandle,
    connect,
    lab_exchange,
    peer_of,
    recv_exactly,
    recv_line,
    recv_until_eof,
    running_server,
)


@pytest.fixture(scope="module")
def echo_server(engine: str) -> Iterator[ServerHandle]:
    with running_server("--engine", engine, "--mode", "echo") as server:
        yield server


@pytest.fixture(scope="module")
def reply_server(engine: str) -> Iterator[ServerHandle]:
    with running_server("--engine", engine, "--mode", "reply") as server:
        yield server


# -- echo --------------------------------------------------------------------------------------------

def test_echo_is_byte_exact_whatever_the_chunking(echo_server: ServerHandle) -> None:
    payload = os.urandom(200_000) + b"\x00\r\n\xff" + b"\n" * 10
    with connect(echo_server) as sock:
        for start in range(0, len(payload), 3001):
            sock.sendall(payload[start:start + 3001])
        assert recv_exactly(sock, len(payload), chunk=997) == payload


def test_echo_sends_pending_replies_after_the_client_half_closes(echo_server: ServerHandle) -> None:
    payload = b"0123456789" * 50_000
    with connect(echo_server) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)  # FIN: we will send nothing more, but we still read
        assert recv_until_eof(sock, chunk=65536) == payload
        peer = peer_of(sock)
    echo_server.wait_for_event("close", peer=peer, by="client", reason="eof")


def test_echo_with_tiny_reads(echo_server: ServerHandle) -> None:
    with connect(echo_server) as sock:
        sock.sendall(b"hello, world")
        assert recv_exactly(sock, 12, chunk=1) == b"hello, world"


def test_quiet_echo_is_byte_exact_and_logs_only_start_and_end(engine: str) -> None:
    """``--quiet`` (the benchmark's setting) takes the asyncio engine's direct echo path."""
    payload = os.urandom(300_000)
    with running_server("--engine", engine, "--mode", "echo", "--quiet") as server, \
            connect(server) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock, chunk=65536) == payload
    assert [e["event"] for e in server.events] == ["listening", "shutdown"]


def runs_on_uvloop(server: ServerHandle) -> bool:
    return any("uvloop" in m.path for m in psutil.Process(server.process.pid).memory_maps())


@pytest.mark.parametrize(("loop", "on_uvloop"), [("auto", True), ("asyncio", False)])
def test_both_event_loops_run_the_same_echo(loop: str, on_uvloop: bool) -> None:
    """uvloop is the default (a dependency on Linux); ``NETDIAG_LOOP=asyncio`` picks the stdlib's loop."""
    payload = os.urandom(100_000)
    for quiet in ([], ["--quiet"]):
        with running_server("--mode", "echo", *quiet, env=netdiag_env(NETDIAG_LOOP=loop)) as server:
            assert runs_on_uvloop(server) is on_uvloop
            with connect(server) as sock:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
                assert recv_until_eof(sock, chunk=65536) == payload


# -- reply -------------------------------------------------------------------------------------------

def test_reply_speaks_to_the_lab_client(reply_server: ServerHandle) -> None:
    assert lab_exchange(reply_server, b"Hello from the lab") == b"accepted"


def test_reply_to_lab_client_close(reply_server: ServerHandle) -> None:
    with connect(reply_server) as sock:
        sock.sendall(b"first")
        assert sock.recv(1024) == b"accepted"
        sock.sendall(b"close")
        assert recv_until_eof(sock) == b"closed"
        peer = peer_of(sock)
    reply_server.wait_for_event("close", peer=peer, by="server", reason="quit")


def test_reply_speaks_lines_to_line_clients(reply_server: ServerHandle) -> None:
    with connect(reply_server) as sock:
        sock.sendall(b"one\r\ntwo\nthr")
        assert recv_exactly(sock, len(b"accepted\naccepted\n")) == b"accepted\naccepted\n"
        sock.sendall(b"ee\n  CLOSE \r\n")
        assert recv_until_eof(sock) == b"accepted\nclosed\n"


def test_reply_other_clients_go_on_after_one_closes(reply_server: ServerHandle) -> None:
    with connect(reply_server) as stays, connect(reply_server) as leaves:
        leaves.sendall(b"close\n")
        assert recv_until_eof(leaves) == b"closed\n"
        stays.sendall(b"still here\n")
        assert recv_line(stays) == b"accepted\n"


def test_reply_shows_invalid_utf8_and_nul_escaped(reply_server: ServerHandle) -> None:
    with connect(reply_server) as sock:
        sock.sendall(b"bad \xff\xfe and nul \x00 and \x1b[2J\n")
        assert recv_line(sock) == b"accepted\n"
        peer = peer_of(sock)
    event = reply_server.wait_for_event("recv", peer=peer)
    assert event["text"] == "bad \\xff\\xfe and nul \\x00 and \\x1b[2J\\n"


def test_abrupt_reset_is_logged_and_the_server_goes_on(reply_server: ServerHandle) -> None:
    sock = connect(reply_server)
    sock.sendall(b"about to vanish\n")
    assert recv_line(sock) == b"accepted\n"
    peer = peer_of(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # linger 0: RST instead of FIN
    reply_server.wait_for_event("reset", peer=peer)
    assert lab_exchange(reply_server, b"next") == b"accepted"


def test_line_too_long_is_told_and_disconnected_others_unaffected(reply_server: ServerHandle) -> None:
    with connect(reply_server) as other, connect(reply_server) as sock:
        sock.sendall(b"short line\n")
        assert recv_line(sock) == b"accepted\n"
        sock.sendall(b"x" * (64 * 1024 + 10))  # no newline: an unfinished line past the limit
        assert recv_until_eof(sock).startswith(b"error: message longer than 65536 bytes")
        peer = peer_of(sock)
        other.sendall(b"fine\n")
        assert recv_line(other) == b"accepted\n"
    reply_server.wait_for_event("close", peer=peer, by="server", reason="line-too-long")


# -- greet -------------------------------------------------------------------------------------------

def test_greet_greets_prints_the_first_message_and_keeps_listening(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "greet") as server:
        for number in (1, 2):
            with connect(server) as sock:
                assert recv_exactly(sock, 17) == b"You are connected"
                sock.sendall(f"Hi, I am client {number}".encode())
                assert recv_until_eof(sock) == b""
                peer = peer_of(sock)
            assert server.wait_for_event("recv", peer=peer)["text"] == f"Hi, I am client {number}"
            server.wait_for_event("close", peer=peer, by="server", reason="greeted")


# -- sink --------------------------------------------------------------------------------------------

def test_sink_reads_prints_and_answers_nothing(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "sink") as server, connect(server) as sock:
        sock.sendall(b"into the void\n")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
        peer = peer_of(sock)
        assert server.wait_for_event("recv", peer=peer)["text"] == "into the void\\n"
    assert not server.of("send")


# -- limits ------------------------------------------------------------------------------------------

def test_idle_clients_are_told_and_closed(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "reply", "--idle-timeout", "0.3") as server:
        with connect(server) as busy, connect(server) as idle:
            busy.sendall(b"I talk\n")
            assert recv_line(busy) == b"accepted\n"
            assert recv_until_eof(idle) == b"idle for 0.3 s, closing the connection\n"
            peer = peer_of(idle)
        server.wait_for_event("close", peer=peer, by="server", reason="idle-timeout")


def test_max_clients_refuses_politely(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "reply", "--max-clients", "2") as server:
        with connect(server) as first, connect(server) as second:
            server.wait_for(lambda e: len([x for x in server.events if x["event"] == "connect"]) == 2)
            with connect(server) as third:
                refusal = recv_until_eof(third)
                peer = peer_of(third)
            assert b"server busy: 2 clients connected already" in refusal
            server.wait_for_event("refused", peer=peer, reason="max-clients")
            for sock in (first, second):
                sock.sendall(b"still served\n")
                assert recv_line(sock) == b"accepted\n"
        # once they leave, there is room again
        server.wait_for(lambda e: len(server.of("close")) == 2)
        assert lab_exchange(server, b"my turn") == b"accepted"


# -- IPv6 --------------------------------------------------------------------------------------------

def test_ipv6_loopback_peer_names(engine: str) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with running_server("--engine", engine, address="[::1]:0") as server:
        assert server.host == "::1"
        with socket.create_connection(("::1", server.port), timeout=5) as sock:
            sock.sendall(b"six")
            assert recv_exactly(sock, 3) == b"six"
            peer = peer_of(sock)
        assert peer.startswith("[::1]:")
        server.wait_for_event("close", peer=peer)
