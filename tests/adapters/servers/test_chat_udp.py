"""Chat rooms and UDP over real loopback sockets, both engines; nc (netcat-openbsd) as a real client."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess

import pytest
from helpers.servers import (
    ServerHandle,
    connect,
    peer_of,
    recv_exactly,
    recv_line,
    recv_until_eof,
    running_server,
)

NC = shutil.which("nc")
needs_nc = pytest.mark.skipif(NC is None, reason="needs netcat-openbsd (./dev test installs it)")


def join(server: ServerHandle, *, rcvbuf: int | None = None) -> socket.socket:
    """Connect to the chat and read the welcome line; returns the socket."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(server.address)
    assert recv_line(sock).startswith(b"* welcome user")
    return sock


def test_chat_room_relays_renames_lists_and_says_goodbye(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "chat") as server:
        alice = join(server)
        bob = join(server)
        assert recv_line(alice).startswith(b"* user2 joined from 127.0.0.1:")
        alice.sendall(b"/nick alice\n")
        assert recv_line(alice) == b"* you are now alice\n"
        assert recv_line(bob) == b"* user1 is now alice\n"
        alice.sendall(b"hello \x1b[31mbob\x1b[0m\r\n")  # escape sequences never reach bob
        assert recv_line(bob) == b"alice: hello bob\n"
        bob.sendall(b"hi")  # a lab-style client: no newline, still one message
        assert recv_line(alice) == b"user2: hi\n"
        bob.sendall(b"/who\n")
        assert recv_line(bob) == b"* 2 here: alice, user2\n"
        bob.sendall(b"/quit\n")
        assert recv_until_eof(bob) == b"* bye\n"
        assert recv_line(alice) == b"* user2 left\n"
        bob.close()
        alice.close()
        server.wait_for(lambda e: len(server.of("close")) == 2)


def test_chat_names_are_unique_defaults_included(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "chat") as server:
        first = join(server)
        first.sendall(b"/nick user2\n")  # squats the next member's default name
        assert recv_line(first) == b"* you are now user2\n"
        second = socket.create_connection(server.address, timeout=5)
        assert recv_line(second).startswith(b"* welcome user2-2, 2 here")
        assert recv_line(first).startswith(b"* user2-2 joined from 127.0.0.1:")
        second.sendall("/nick U\u0405ER2\n".encode())  # Cyrillic capital DZE for the S
        assert recv_line(second) == ("* the name U\u0405ER2 is taken: it reads the same as user2, who is "
                                     "here; pick another with /nick NAME\n").encode()
        second.sendall(b"hi\n")
        assert recv_line(first) == b"user2-2: hi\n"
        second.sendall(b"/who\n")
        assert recv_line(second) == b"* 2 here: user2, user2-2\n"
        first.close()
        second.close()


def test_chat_clients_are_told_when_the_server_stops(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "chat", check_exit=False) as server:
        first, second = join(server), join(server)
        assert recv_line(first).startswith(b"* user2 joined")
        code = server.stop(signal.SIGTERM, timeout=2.0)
        for sock in (first, second):
            assert recv_until_eof(sock) == b"* server shutting down, goodbye\n"
            sock.close()
    assert code == 0
    assert len(server.of("close", by="server", reason="shutdown")) == 2


def test_a_slow_reader_is_dropped_and_does_not_delay_the_others(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "chat", "--max-queue", "65536") as server:
        talker = join(server)
        witness = join(server)
        slow = join(server, rcvbuf=4096)  # never reads again
        slow_peer = peer_of(slow)
        for sock in (talker, witness):
            while not recv_line(sock).startswith(b"* user3 joined"):
                pass
        witness_lines = witness.makefile("rb")
        line = b"x" * 1000 + b"\n"
        for _ in range(20_000):  # bounded: ~20 MB at most
            talker.sendall(line)
            received = witness_lines.readline()
            if received != b"user1: " + line:  # the witness keeps up: every line, in order
                break
        assert received == b"* user3 was dropped (too slow to read the room)\n"
        assert witness_lines.readline() == b"user1: " + line  # the line sent while the notice was on its way
        server.wait_for_event("close", peer=slow_peer, by="server", reason="slow-reader")
        talker.sendall(b"after the drop\n")
        assert witness_lines.readline() == b"user1: after the drop\n"
        witness_lines.close()
        for sock in (talker, witness, slow):
            sock.close()


@needs_nc
def test_nc_talks_to_reply_mode(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "reply") as server:
        result = subprocess.run([NC, "-N", server.host, str(server.port)], input=b"hello\r\nworld\nclose\n",
                                capture_output=True, timeout=10)
    assert result.stdout == b"accepted\naccepted\nclosed\n"


@needs_nc
def test_nc_chats_with_a_lab_style_client(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "chat") as server:
        lab = join(server)
        nc = subprocess.Popen([NC, server.host, str(server.port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
        assert recv_line(lab).startswith(b"* user2 joined")
        assert nc.stdin is not None and nc.stdout is not None
        nc.stdin.write(b"hello from nc\n")
        nc.stdin.flush()
        assert recv_line(lab) == b"user2: hello from nc\n"
        lab.sendall(b"hello from the lab")
        assert nc.stdout.readline().startswith(b"* welcome user2")
        assert nc.stdout.readline() == b"user1: hello from the lab\n"
        nc.stdin.close()  # EOF: nc -N is not needed, the server sees the close when nc exits
        nc.terminate()
        nc.wait(timeout=5)
        assert recv_line(lab) in (b"* user2 left\n", b"* user2 left (connection reset)\n")
        lab.close()


@needs_nc
def test_nc_echo_is_byte_exact(engine: str) -> None:
    payload = bytes(range(256)) * 64
    with running_server("--engine", engine) as server:
        result = subprocess.run([NC, "-N", server.host, str(server.port)], input=payload,
                                capture_output=True, timeout=10)
    assert result.stdout == payload


# -- UDP ---------------------------------------------------------------------------------------------

def test_udp_echo_answers_each_datagram_to_its_sender(engine: str) -> None:
    with running_server("--engine", engine, "--udp", "--mode", "echo") as server:
        assert server.events[0]["proto"] == "udp"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(5)
            for message in (b"one", b"\x00\xff binary", b""):
                sock.sendto(message, server.address)
                data, source = sock.recvfrom(2048)
                assert (data, source[1]) == (message, server.port)
            peer = peer_of(sock)
        event = server.wait_for_event("datagram", peer=peer, bytes=9)
        assert event["text"] == "\\x00\\xff binary"


def test_udp_sink_prints_each_datagram_with_its_source(engine: str) -> None:
    with running_server("--engine", engine, "--udp", "--mode", "sink") as server:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.sendto(b"fire and forget", server.address)
            peer = peer_of(sock)
            assert server.wait_for_event("datagram", peer=peer)["text"] == "fire and forget"
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recvfrom(100)  # a sink answers nothing
        assert not server.of("send")


def test_udp_reply_answers_accepted_and_closed_per_datagram(engine: str) -> None:
    with running_server("--engine", engine, "--udp", "--mode", "reply") as server:
        assert server.events[0]["mode"] == "reply"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(5)
            for message, answer in ((b"hello", b"accepted"), (b"close", b"closed"),
                                    (b"still here?\n", b"accepted\n"), (b"close\n", b"closed\n")):
                sock.sendto(message, server.address)
                data, source = sock.recvfrom(2048)
                assert (data, source[1]) == (answer, server.port)
            peer = peer_of(sock)
        # `close` ends no connection (there is none): the server went on answering, and says so per datagram
        server.wait_for(lambda e: len(server.of("send")) >= 4, what="four send events")
        assert [e["bytes"] for e in server.of("send")] == [8, 6, 9, 7]
        assert server.wait_for_event("datagram", peer=peer, bytes=5)["text"] == "hello"
        assert not server.of("close")


def test_tiny_recv_on_greeting(engine: str = "asyncio") -> None:
    with running_server("--mode", "greet") as server, connect(server) as sock:
        assert recv_exactly(sock, 17, chunk=1) == b"You are connected"
        sock.sendall(b"bye")
        assert recv_until_eof(sock) == b""
