"""The lab's greeting server: says ``You are connected``, prints the client's one message, closes."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab._common import announce, tcp_listener

GREETING = b"You are connected"


def main(argv: list[str] | None = None) -> None:
    server = tcp_listener(argv)
    announce(server)
    while True:
        conn, addr = server.accept()
        with conn:
            print(f"Connected by {addr}", flush=True)
            conn.send(GREETING)
            data = conn.recv(1024)
            print(f"Received: {data.decode(errors='replace')}", flush=True)


if __name__ == "__main__":
    main()
