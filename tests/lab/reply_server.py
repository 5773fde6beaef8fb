"""The lab's multithreaded reply server (handout 1.11): each message gets ``accepted``; ``close`` gets
``closed`` and ends that client's session.

Quirks kept from the handout, on purpose (netdiag must cope with them):

* ``close`` is recognised only as the whole message, case-insensitively (``request.lower() == "close"``):
  ``close\\n`` from a line client is just another message, answered ``accepted``.
* ``recv()`` returning ``b""`` (the client's end of input) is not handled: the empty message is answered
  ``accepted`` and the loop goes on, so a client that half-closes (TCP FIN) and keeps reading gets
  ``accepted`` over and over. Once the client has closed for good, a ``send()`` fails and the
  ``except`` ends that thread.
"""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab._common import announce, tcp_listener


def handle_client(client_socket: socket.socket, addr: tuple[str, int]) -> None:
    print(f"Connected by {addr}", flush=True)
    try:
        while True:
            request = client_socket.recv(1024).decode("utf-8")
            if request.lower() == "close":
                client_socket.send(b"closed")
                break
            print(f"Received from {addr}: {request}", flush=True)
            client_socket.send(b"accepted")
    except (OSError, UnicodeDecodeError) as e:  # the handout catches Exception
        print(f"Error when handling client: {e}", flush=True)
    finally:
        client_socket.close()
        print(f"Disconnected {addr}", flush=True)


def main(argv: list[str] | None = None) -> None:
    server = tcp_listener(argv)
    announce(server)
    while True:
        conn, addr = server.accept()
        threading.Thread(target=handle_client, args=(conn, addr), daemon=True).start()


if __name__ == "__main__":
    main()
