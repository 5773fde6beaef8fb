"""Text that strangers choose, through the real programs: a chat member spoofing a line with bidi and
invisible characters, and the other member's ``netdiag connect`` printing it."""

from __future__ import annotations

import socket
import subprocess
import threading
import unicodedata

from helpers.cli import invoke_netdiag, popen_netdiag
from helpers.servers import connect as connect_to
from helpers.servers import recv_line, running_server
from helpers.waiting import wait_until

SPOOF = "see invoice\u202efdp.exe\u200b\u2066\u2028\ufeff\u061c now\n"
"""Shows as "see invoiceexe.pdf now" once a terminal applies the right-to-left override."""
UNSHOWN = ("Cc", "Cf", "Zl", "Zp")


class Lines:
    """A process's stdout, read line by line in a thread so the test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: self.lines.extend(stream), daemon=True).start()

    def having(self, fragment: str) -> str:
        return wait_until(lambda: next((line for line in list(self.lines) if fragment in line), ""),
                          timeout=10, what=f"a line with {fragment!r}")


def test_chat_relays_no_bidi_or_invisible_character_and_connect_prints_none(engine: str) -> None:
    with running_server("--mode", "chat", "--engine", engine) as server:
        reader = popen_netdiag("connect", f"127.0.0.1:{server.port}")  # interactive: prints what arrives
        try:
            printed = Lines(reader)
            printed.having("* welcome")
            with connect_to(server) as mallory:
                recv_line(mallory)  # its welcome
                mallory.sendall(SPOOF.encode())
                line = printed.having("see invoice")
        finally:
            assert reader.stdin is not None
            reader.stdin.close()  # end of input: connect closes and exits
            code = reader.wait(timeout=10)
            for stream in (reader.stdout, reader.stderr):
                if stream is not None:
                    stream.close()
    assert code == 0
    assert not [char for char in line.rstrip("\n") if unicodedata.category(char) in UNSHOWN], repr(line)
    assert line.rstrip("\n").endswith(": see invoicefdp.exe now")


def test_connect_prints_a_servers_invisible_characters_escaped() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(100)
                conn.sendall(SPOOF.encode())

        threading.Thread(target=serve, daemon=True).start()
        result = invoke_netdiag("connect", f"127.0.0.1:{port}", "-m", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "see invoice\\u202efdp.exe\\u200b\\u2066\\u2028\\ufeff\\u061c now\n"

