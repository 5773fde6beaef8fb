"""The lab's first echo server (handout 1.6), as written there: accept ONE client, echo it, exit.

Only the address comes from the command line (``PORT [HOST]``) and the port is announced, so tests can
run it; the rest is the handout's code. It has no loop around ``accept()``: whoever connects first is
its only client, and a connection reset while it reads ends it with ``ConnectionResetError``. That is
what ``netdiag probe`` must not be (docs/probe.md, "Probing does no harm").
"""

import socket
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab._common import address_from_argv, announce

HOST, PORT = address_from_argv(sys.argv)

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    s.listen()
    announce(s)
    conn, addr = s.accept()
    with conn:
        print(f"Connected by {addr}")
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)
