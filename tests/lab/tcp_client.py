"""The lab's TCP client: ``HOST PORT [MESSAGE...]``; one ``send()`` and one ``recv(1024)`` per message.

With no messages on the command line it reads them from stdin, one per line (the newline is not sent),
like the lab's ``input()`` loop. Each reply is printed on its own line; it stops when the server answers
``closed`` or closes the connection.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterable


def messages_from(argv: list[str]) -> Iterable[str]:
    if len(argv) > 3:
        return argv[3:]
    return (line.rstrip("\r\n") for line in sys.stdin)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    host, port = argv[1], int(argv[2])
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect((host, port))
    for message in messages_from(argv):
        client.send(message.encode())
        reply = client.recv(1024)
        if not reply:
            print("server closed the connection", flush=True)
            break
        print(reply.decode(errors="replace"), flush=True)
        if reply == b"closed":
            break
    client.close()


if __name__ == "__main__":
    main()
