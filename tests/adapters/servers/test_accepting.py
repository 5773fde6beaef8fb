"""The asyncio engine's own accept loop, on both event loops, with real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from netdiag.adapters.servers.accepting import Acceptor, Address

DEADLINE = 5.0


def run_on(loop_name: str, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        uvloop.run(main())
    else:
        asyncio.run(main())


class Recorder(asyncio.Protocol):
    """Remembers the address it was made for and how its connection ended."""

    def __init__(self, address: Address, ended: asyncio.Queue[tuple[Address, Exception | None]]) -> None:
        self.address, self.ended = address, ended

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended.put_nowait((self.address, exc))


def reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_a_client_reset_before_accept_is_still_named(loop_name: str) -> None:
    """uvloop's own server could not name it (getpeername fails on a reset socket); accept() can."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ended: asyncio.Queue[tuple[Address, Exception | None]] = asyncio.Queue()
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        names = {client.getsockname() for client in clients}
        for client in clients:  # all three reset while still in the backlog: nobody has accepted yet
            reset(client)
        acceptor = Acceptor(loop, listener, lambda address: Recorder(address, ended), pytest.fail)
        acceptor.start()
        try:
            seen = [await asyncio.wait_for(ended.get(), DEADLINE) for _ in clients]
        finally:
            acceptor.close()
        assert {tuple(address) for address, _ in seen} == names
        assert all(isinstance(exc, ConnectionResetError) for _, exc in seen), seen
        assert listener.fileno() == -1, "close() closes the listener"

    run_on(loop_name, main)


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_accepting_pauses_when_accept_fails_for_the_listener(loop_name: str) -> None:
    """A listener that cannot accept (here: not listening, EINVAL) is reported once, then retried later."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        failures: list[OSError] = []
        with socket.socket() as not_listening:
            not_listening.bind(("127.0.0.1", 0))
            acceptor = Acceptor(loop, not_listening, pytest.fail, failures.append)
            acceptor.accept_batch()  # as the loop would on a wake-up
            assert len(failures) == 1 and acceptor.retry is not None, failures
            acceptor.close()
            assert acceptor.retry.cancelled()

    run_on(loop_name, main)
