"""A chat member floods the room with one burst of lines while others talk: both engines (and the asyncio
engine on both loops). Nobody is dropped, everything is delivered in order, the others' exchange goes on
*during* the burst (their lines arrive between the burst's lines, not after all of them), and the server
shuts down cleanly afterwards. How long the others wait is measured by ``./dev bench fairness --scenario
burst``, never asserted here."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable

import pytest
from helpers.cli import netdiag_env
from helpers.servers import ServerHandle, running_server
from helpers.waiting import wait_until
from reliability.harness import IO_TIMEOUT

ENGINE_RUNS: dict[str, tuple[str, dict[str, str]]] = {
    "asyncio": ("asyncio", {}),
    "asyncio-stdlib": ("asyncio", {"NETDIAG_LOOP": "asyncio"}),
    "threads": ("threads", {}),
}
BURST_LINES = 60_000
"""One-character lines in one ``sendall()`` (120 KB): the issue's burst. Relayed to three members, that is
1.6 MB, more than ``--max-queue`` (256 KiB) per member if the server queued it all at once."""
BURST = b"".join(b"%d\n" % (n % 10) for n in range(BURST_LINES))
EXCHANGES = 2_000
"""At most this many ping-pong round trips (the exchange stops when the burst has been read anyway)."""
BURST_TIMEOUT = 60.0
PING = re.compile(rb"^ping: p(\d{5})$", re.MULTILINE)
PONG = re.compile(rb"^pong: q(\d{5})$", re.MULTILINE)


class Member:
    """A chat member that reads everything on a thread; ``react`` sees each chunk of complete lines.

    Lines are matched with compiled regular expressions over whole chunks (C code): the test's reader
    threads share one GIL, and looping over 60,000 lines in Python would slow down the exchange.
    """

    def __init__(self, server: ServerHandle, name: str) -> None:
        self.sock = socket.create_connection(server.address, timeout=IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.name = name
        self.received = bytearray()
        self.burst_lines = 0
        self.eof = False
        self.react: Callable[[bytes], None] | None = None
        self.thread = threading.Thread(target=self._read, daemon=True, name=f"member {name}")
        self.sock.sendall(f"/nick {name}\n".encode())
        self.thread.start()
        wait_until(lambda: f"* you are now {name}\n".encode() in self.received, timeout=IO_TIMEOUT,
                   what=f"{name} to be named")

    def _read(self) -> None:
        pending = b""
        try:
            while data := self.sock.recv(262144):
                self.received += data
                pending += data
                cut = pending.rfind(b"\n") + 1
                complete, pending = pending[:cut], pending[cut:]
                self.burst_lines += complete.count(b"burst: ")
                if self.react is not None:
                    self.react(complete)
        except OSError:
            pass
        self.eof = True

    def lines(self) -> list[bytes]:
        return bytes(self.received).split(b"\n")[:-1]


@pytest.mark.parametrize("run", ENGINE_RUNS)
def test_a_burst_from_one_member_while_the_others_talk(run: str) -> None:
    engine, extra_env = ENGINE_RUNS[run]
    with running_server("--mode", "chat", "--engine", engine, env=netdiag_env(**extra_env)) as server:
        watch, ping, pong, burst = (Member(server, name) for name in ("watch", "ping", "pong", "burst"))
        readers = (watch, ping, pong)
        answered: list[int] = []
        asked = [1]  # pings sent; p00000 below
        asking = threading.Lock()  # the last ping is either sent and counted, or not sent
        stopped = [False]

        def answer(chunk: bytes) -> None:
            for match in PING.finditer(chunk):
                pong.sock.sendall(b"q%s\n" % match.group(1))

        def ask_again(chunk: bytes) -> None:
            for match in PONG.finditer(chunk):
                answered.append(int(match.group(1)))
                with asking:
                    if not stopped[0] and len(answered) < EXCHANGES:
                        ping.sock.sendall(b"p%05d\n" % len(answered))
                        asked[0] += 1

        pong.react, ping.react = answer, ask_again
        ping.sock.sendall(b"p00000\n")
        wait_until(lambda: answered, timeout=IO_TIMEOUT, what="the first ping-pong round trip")
        sender = threading.Thread(target=burst.sock.sendall, args=(BURST,), daemon=True)
        sender.start()
        wait_until(lambda: all(m.burst_lines >= BURST_LINES or m.eof for m in readers),
                   timeout=BURST_TIMEOUT, what="every member to read the whole burst (or be cut off)")
        sender.join(timeout=IO_TIMEOUT)
        with asking:
            stopped[0] = True
            exchanged = asked[0]
        wait_until(lambda: len(answered) == exchanged and b"pong: q%05d" % (exchanged - 1) in watch.received,
                   timeout=IO_TIMEOUT, what="the last ping to be answered and reach the watcher")

        assert not any(m.eof for m in (*readers, burst)), "a member was cut off"
        assert not server.of("close", reason="slow-reader"), "a member was dropped as a slow reader"
        expected_burst = [b"burst: %d" % (n % 10) for n in range(BURST_LINES)]
        for member in readers:  # every line of the burst, in order, to every other member
            assert [line for line in member.lines() if line.startswith(b"burst: ")] == expected_burst
            assert b"was dropped" not in member.received
        talk = [line for line in watch.lines() if line.startswith((b"ping: ", b"pong: "))]
        assert talk == [line for n in range(exchanged) for line in (b"ping: p%05d" % n, b"pong: q%05d" % n)]
        # The exchange went on during the burst: some of it reached the watcher between two of the
        # burst's lines, not only before its first or after its last.
        kinds = [line.startswith(b"burst: ") for line in watch.lines() if line.startswith((b"burst: ", b"p"))]
        first, last = kinds.index(True), len(kinds) - 1 - kinds[::-1].index(True)
        assert not all(kinds[first:last + 1]), "the others were served only before or after the whole burst"
        for member in (*readers, burst):
            member.sock.close()
