"""The lab's reply server: each message gets ``accepted``; ``close`` gets ``closed`` and ends it."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab._common import announce, tcp_listener


def handle_client(conn: socket.socket, addr: tuple[str, int]) -> None:
    print(f"Connected by {addr}", flush=True)
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            message = data.decode(errors="replace")
            print(f"Received from {addr}: {message}", flush=True)
            if message.strip() == "close":
                conn.send(b"closed")
                break
            conn.send(b"accepted")
    print(f"Disconnected {addr}", flush=True)


def main(argv: list[str] | None = None) -> None:
    server = tcp_listener(argv)
    announce(server)
    while True:
        conn, addr = server.accept()
        threading.Thread(target=handle_client, args=(conn, addr), daemon=True).start()


if __name__ == "__main__":
    main()
