"""The lab's "more detailed" server (handout 1.10): one client, each message answered ``accepted``,
``close`` answered ``closed``; then it closes both sockets and exits.

Quirks kept from the handout, on purpose (netdiag must cope with them):

* No ``SO_REUSEADDR`` and ``listen(0)``: restarting it on the same port right after a session it closed
  fails with "Address already in use" while that connection waits in TIME_WAIT.
* ``close`` is recognised only as the whole message, case-insensitively (``request.lower() == "close"``).
* ``recv()`` returning ``b""`` is not handled: after the client's end of input (TCP FIN) it answers the
  empty message ``accepted`` again and again, as fast as it can, until a ``send()`` fails (the client
  closed for good), which ends it with a traceback.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab._common import address_from_argv, announce


def run_server(argv: list[str] | None = None) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(address_from_argv(sys.argv if argv is None else argv))
    server.listen(0)
    announce(server)
    client_socket, client_address = server.accept()
    print(f"Accepted connection from {client_address[0]}:{client_address[1]}", flush=True)
    while True:
        request = client_socket.recv(1024)
        request = request.decode("utf-8")
        if request.lower() == "close":
            client_socket.send(b"closed")
            break
        print(f"Received: {request}", flush=True)
        response = b"accepted"
        client_socket.send(response)
    client_socket.close()
    print("Connection to client closed", flush=True)
    server.close()


if __name__ == "__main__":
    run_server()
