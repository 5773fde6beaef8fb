"""The lab's UDP echo server: ``recvfrom(1024)``, then ``sendto`` the datagram back to its sender."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab._common import address_from_argv, announce


def main(argv: list[str] | None = None) -> None:
    host, port = address_from_argv(sys.argv if argv is None else argv)
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((host, port))
    announce(server)
    while True:
        data, addr = server.recvfrom(1024)
        print(f"Received from {addr}: {data.decode(errors='replace')}", flush=True)
        server.sendto(data, addr)


if __name__ == "__main__":
    main()
