"""The lab's multithreaded server (handout 1.11), as written there: a thread per client, ``accepted``.

Only the address comes from the command line (``PORT [HOST]``) and the port is announced; the rest is
the handout's code, including its quirks: an error in a session is printed (``Error when handling
client: [Errno 104] Connection reset by peer`` for a client that resets), and a client that closes
without sending ``close`` makes it loop on empty reads until a send fails.
"""

import socket
import sys
import threading
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab._common import address_from_argv, announce


def handle_client(client_socket, addr):  # type: ignore[no-untyped-def]
    try:
        while True:
            # receive and print client messages
            request = client_socket.recv(1024).decode("utf-8")
            if request.lower() == "close":
                client_socket.send("closed".encode("utf-8"))  # noqa: UP012 (the handout's words)
                break
            print(f"Received: {request}")
            # convert and send accept response to the client
            response = "accepted"
            client_socket.send(response.encode("utf-8"))
    except Exception as e:
        print(f"Error when handling client: {e}")
    finally:
        client_socket.close()
        print(f"Connection to client ({addr[0]}:{addr[1]}) closed")


def run_server():  # type: ignore[no-untyped-def]
    server_ip, port = address_from_argv(sys.argv)
    try:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind((server_ip, port))
        server.listen()
        announce(server)
        print(f"Listening on {server_ip}:{port}")

        while True:
            client_socket, addr = server.accept()
            print(f"Accepted connection from {addr[0]}:{addr[1]}")
            # start a new thread to handle the client
            thread = threading.Thread(target=handle_client, args=(client_socket, addr))
            thread.start()
    except Exception as e:
        print(f"Error: {e}")
    finally:
        server.close()


run_server()
