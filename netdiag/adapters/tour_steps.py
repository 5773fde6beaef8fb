"""The steps of ``netdiag tour``, computed with real loopback sockets (placeholder until issue 5)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class TourStep:
    title: str
    lines: tuple[str, ...]


def run_minimal_tour() -> Iterator[TourStep]:
    """Start a one-shot echo server on 127.0.0.1:0, talk to it, and report what happened."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        host, port = server.getsockname()[:2]
        yield TourStep(
            "1. A server listens",
            (f"An echo server is bound to {host}:{port} and called listen().",
             "Port 0 asked the OS for any free port; 127.0.0.1 means only this machine can connect."),
        )

        def echo_once() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(conn.recv(4096))

        worker = threading.Thread(target=echo_once, daemon=True)
        worker.start()
        with socket.create_connection((host, port), timeout=5) as client:
            client.sendall(b"hello")
            reply = client.recv(4096)
            local = client.getsockname()
        worker.join(timeout=5)
        yield TourStep(
            "2. A client connects and exchanges a message",
            (f"The client {local[0]}:{local[1]} sent b'hello' and got back {reply!r}.",
             "The kernel did the three-way handshake (SYN, SYN-ACK, ACK) inside connect()."),
        )
