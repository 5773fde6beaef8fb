"""Catalog entries for the mistakes of a socket program itself (the lab's everyday Python errors), and for
a server restarted while its old connections wait in TIME_WAIT.

Kept apart from ``catalog.py`` only for size: ``catalog.py`` merges these into ``CATALOG`` (before
``unknown``), so every command, and docs/troubleshooting.md, sees one catalog. Same style: one sentence of
meaning, the likely causes, the concrete fixes.
"""

from __future__ import annotations

from netdiag.core.causes import Cause, Explanation

PROGRAM_CATALOG: dict[Cause, Explanation] = {
    Cause.TIME_WAIT: Explanation(
        Cause.TIME_WAIT,
        "Server stopped (its connections wait in TIME_WAIT)",
        "Nothing listens on the port now, but connections of a server that ran there recently are still "
        "in TIME_WAIT: the server was stopped (or crashed), and restarting it on the same port may fail "
        "with 'Address already in use' until they expire.",
        (
            "The server was stopped (Ctrl-C) or exited after closing its connections, and was not started "
            "again.",
            "A restart failed with 'Address already in use': on Linux, SO_REUSEADDR on the new server "
            "only helps if the old server's sockets had it too (measured: both must set it).",
        ),
        (
            "Start the server again; to see when it listens: netdiag sockets --listening --port PORT.",
            "If the restart says 'Address already in use', wait until the TIME_WAIT sockets expire "
            "(60 s on Linux, about 30 s on macOS, 120 s on Windows); to list them: netdiag sockets --port "
            "PORT --state time-wait.",
            "To restart at once next time, set SO_REUSEADDR in the server before bind() "
            "(sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)): it takes effect from the run "
            "that sets it, not for the TIME_WAIT sockets an older run left.",
        ),
    ),
    Cause.STR_NOT_BYTES: Explanation(
        Cause.STR_NOT_BYTES,
        "Sending text instead of bytes",
        "Python 3 sockets send and receive bytes; send(), sendall() and sendto() were given a str "
        "(TypeError: a bytes-like object is required, not 'str').",
        (
            "client.send('hello') or conn.send(message) with a str: the lab's code calls .encode() first.",
            "A reply built with an f-string or str concatenation, then sent without encoding.",
        ),
        (
            "Encode before sending: sock.send(message.encode()) (UTF-8), or write a bytes literal: "
            "sock.send(b'hello').",
            "Decode what you receive before using it as text: sock.recv(1024).decode().",
        ),
    ),
    Cause.SOCKET_CLOSED: Explanation(
        Cause.SOCKET_CLOSED,
        "Socket used after close()",
        "The program used a socket it had already closed: its file descriptor is gone (Bad file "
        "descriptor, EBADF; on Windows WinError 10038, 'not a socket').",
        (
            "close() is called inside the loop (or in a finally block) and the loop goes on sending or "
            "receiving.",
            "A with block ended (it closes the socket) and the socket is still used after it.",
            "Another thread closed the socket, or the server closed the listening socket and calls "
            "accept() again.",
        ),
        (
            "Close each socket once, after its last send()/recv(): move close() after the loop.",
            "After break or return on 'close', do not touch that socket again; accept a new connection "
            "for the next client.",
        ),
    ),
    Cause.NOT_CONNECTED: Explanation(
        Cause.NOT_CONNECTED,
        "Socket not connected",
        "send() or recv() was called on a socket that has no connection: a listening socket, or a "
        "client socket before connect() (ENOTCONN, errno 107 on Linux, 57 on macOS, WinError 10057).",
        (
            "The server reads or writes on its listening socket (server.recv) instead of the socket "
            "accept() returned (conn, addr = server.accept(); conn.recv(1024)).",
            "The client sends before connect() succeeded, or after the connection was shut down.",
            "UDP: send() without connect(); use sendto(data, (host, port)).",
        ),
        (
            "Use the connected socket: conn, addr = server.accept(), then conn.recv() and conn.send().",
            "Call connect((host, port)) before send()/recv() on a TCP client, and check it succeeded.",
            "On Linux a send() on a socket that never connected fails with Broken pipe (EPIPE) instead: "
            "the same mistake.",
        ),
    ),
    Cause.ALREADY_CONNECTED: Explanation(
        Cause.ALREADY_CONNECTED,
        "Socket already connected",
        "connect() was called on a socket that is already connected, or on a listening socket (EISCONN, "
        "errno 106 on Linux, 56 on macOS, WinError 10056).",
        (
            "connect() is called again inside the send loop, on the same socket.",
            "A retry loop reconnects the same socket object after a first success.",
            "The server socket (bound and listening) is used to connect somewhere.",
        ),
        (
            "Connect once, before the loop; to reconnect, close the socket and create a new one "
            "(socket.socket(...)) for each connection.",
            "Keep the server's listening socket and its clients' sockets apart.",
        ),
    ),
    Cause.DECODE_ERROR: Explanation(
        Cause.DECODE_ERROR,
        "Received bytes are not valid UTF-8",
        "recv(...).decode() failed (UnicodeDecodeError): the bytes received are not a whole UTF-8 text.",
        (
            "recv(1024) cut a multi-byte character (é, ü, emoji) in two: TCP has no message boundaries, "
            "so the rest arrives in the next recv().",
            "The peer sends binary data, or another encoding (Latin-1, UTF-16), or is another protocol "
            "(TLS, HTTP/2).",
        ),
        (
            "Decode tolerantly while testing: data.decode('utf-8', errors='replace').",
            "Keep the bytes until the message is whole (for example up to a newline) and decode then; "
            "or use codecs.getincrementaldecoder('utf-8')(), which keeps a cut character for the next "
            "chunk.",
            "See exactly what arrives: netdiag listen PORT (it prints invalid bytes as \\xNN).",
        ),
    ),
    Cause.PORT_OUT_OF_RANGE: Explanation(
        Cause.PORT_OUT_OF_RANGE,
        "Port number out of range",
        "A port is a 16-bit number: 0 to 65535 (OverflowError: bind(): port must be 0-65535).",
        (
            "A typo (80000 instead of 8000), or a port computed as base + offset that overflows.",
            "The port was read as text and converted wrongly, or host and port were swapped.",
        ),
        (
            "Use a port from 1024 to 65535 for your own servers, for example 8000.",
            "Print the (host, port) tuple just before bind()/connect() to see what is really passed.",
        ),
    ),
    Cause.INVALID_ARGUMENT: Explanation(
        Cause.INVALID_ARGUMENT,
        "Invalid argument (socket calls in the wrong order)",
        "The OS refused a socket call that is not valid in the socket's state (EINVAL, errno 22; on "
        "Windows WinError 10022).",
        (
            "accept() before listen() (measured on Linux: [Errno 22]).",
            "bind() called twice on the same socket, for example inside a retry loop (measured on Linux).",
            "Windows: recvfrom() on a UDP socket that has neither sent nor been bound (WinError 10022).",
        ),
        (
            "Follow the order: server socket() -> bind() -> listen() -> accept(); client socket() -> "
            "connect(); UDP client sendto() before recvfrom().",
            "Create a new socket for each retry instead of binding the same one again.",
        ),
    ),
    Cause.TOO_MANY_OPEN_FILES: Explanation(
        Cause.TOO_MANY_OPEN_FILES,
        "Too many open files (sockets not closed)",
        "The process reached its limit of open file descriptors, and every socket is one (EMFILE, errno "
        "24; on Windows WinError 10024).",
        (
            "Sockets are never closed: a server that does not close each accepted connection, or a client "
            "loop that creates a socket per message.",
            "A load test opens more connections than the limit (ulimit -n, often 1024).",
        ),
        (
            "Close every socket when done: use with socket.socket(...) as s: or call close() in a finally "
            "block; close each accepted conn after its client leaves.",
            "See the open sockets: netdiag sockets --port PORT (or ls /proc/PID/fd on Linux).",
            "Only if the program really needs more: raise the limit with ulimit -n 4096 (this shell).",
        ),
    ),
    Cause.FILE_PERMISSION: Explanation(
        Cause.FILE_PERMISSION,
        "Permission denied on a file, not a port",
        "The shell (or Python) could not run or open a file: a file permission problem, not a network "
        "one (bash: ./server.py: Permission denied).",
        (
            "The script has no execute bit: ./server.py only runs scripts marked executable.",
            "The file belongs to another user, or sits on a mount that forbids running programs.",
        ),
        (
            "Run it through Python: python3 server.py",
            "Or make it executable: chmod +x server.py (with #!/usr/bin/env python3 as its first line).",
            "Check the permissions: ls -l server.py",
        ),
    ),
}
