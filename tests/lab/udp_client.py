"""The lab's UDP client: ``HOST PORT MESSAGE...``; one datagram per message, waits 2 s for each echo."""

from __future__ import annotations

import socket
import sys


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    host, port = argv[1], int(argv[2])
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(2.0)
    for message in argv[3:] or ["hello"]:
        client.sendto(message.encode(), (host, port))
        try:
            reply, _ = client.recvfrom(1024)
        except TimeoutError:
            print("no reply", flush=True)
            continue
        print(reply.decode(errors="replace"), flush=True)
    client.close()


if __name__ == "__main__":
    main()
