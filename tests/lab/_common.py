"""What every lab server shares: parse ``PORT [HOST]`` and announce the bound port (first line)."""

from __future__ import annotations

import socket
import sys

DEFAULT_HOST = "127.0.0.1"


def address_from_argv(argv: list[str]) -> tuple[str, int]:
    """``PORT [HOST]`` from the command line; HOST defaults to 127.0.0.1 (loopback only)."""
    port = int(argv[1]) if len(argv) > 1 else 0
    host = argv[2] if len(argv) > 2 else DEFAULT_HOST
    return host, port


def announce(sock: socket.socket) -> None:
    """Print ``listening on PORT`` first, flushed, so a test knows the port once the socket is ready."""
    print(f"listening on {sock.getsockname()[1]}", flush=True)


def tcp_listener(argv: list[str] | None = None) -> socket.socket:
    """A listening TCP socket as the lab creates it (SO_REUSEADDR, bind, listen(5))."""
    host, port = address_from_argv(sys.argv if argv is None else argv)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(5)
    return server
