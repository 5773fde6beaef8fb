"""``--idle-timeout`` against a client that sends but never reads, on both engines.

Echo answers everything it reads; a client that reads none of it fills the kernel's buffers, and then
the server can neither write to it nor (flow control) read from it. After ``--idle-timeout`` seconds of
that the server ends the connection as a ``slow-reader`` (an ``idle-timeout`` notice could never reach
it: it would wait behind the backlog), on both engines alike.
"""

from __future__ import annotations

import socket
import threading

from helpers.servers import connect, peer_of, running_server

CHUNK = b"x" * 65536
MAX_CHUNKS = 1024
"""At most 64 MiB: far more than the kernel's buffers on both sides hold, so the sender always blocks."""


def send_without_reading(sock: socket.socket) -> threading.Event:
    """Send (in a thread) until the connection fails or the bound is reached; set the event then."""
    ended = threading.Event()

    def run() -> None:
        try:
            for _ in range(MAX_CHUNKS):
                sock.sendall(CHUNK)
        except OSError:  # the server ended the connection under us (EPIPE / ECONNRESET)
            pass
        ended.set()

    threading.Thread(target=run, daemon=True).start()
    return ended


def test_a_client_that_never_reads_is_closed_as_a_slow_reader(engine: str) -> None:
    with running_server("--engine", engine, "--mode", "echo", "--idle-timeout", "0.5") as server, \
            connect(server) as client:
        client.settimeout(None)  # blocks until the server ends the connection (or stops, at the end)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        peer = peer_of(client)
        sending = send_without_reading(client)
        ended = server.wait_for(lambda e: e.get("peer") == peer and e.get("event") in ("close", "reset"),
                                timeout=20, what="the server to end the connection")
        assert ended["event"] == "close" and ended["reason"] == "slow-reader", ended
        assert sending.wait(timeout=20), "the connection is still open: the client can still send"
        assert server.of("close", peer=peer) == [ended], "closed twice"
