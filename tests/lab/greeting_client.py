"""The lab's greeting client: ``HOST PORT MESSAGE``; prints the greeting, sends one message, closes."""

from __future__ import annotations

import socket
import sys


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    host, port = argv[1], int(argv[2])
    message = argv[3] if len(argv) > 3 else "hello"
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect((host, port))
    greeting = client.recv(1024)
    print(greeting.decode(errors="replace"), flush=True)
    client.send(message.encode())
    client.close()


if __name__ == "__main__":
    main()
