"""A connection accepted just as SIGINT/SIGTERM arrives is told the server is shutting down.

The window is real but narrow: the asyncio engine accepts a batch of connections and hands each to the
loop in a task; if the signal's ``shut_down`` runs before a task has made its protocol, that connection
meets a stopping server. (The thread engine's accept can return after the signal handler ran.) Such a
client used to be told ``server busy ... (--max-clients)``, which sends whoever reads it after the wrong
limit. These tests open that window on purpose, with the engines' own code and real loopback sockets:
a connection is accepted, the shutdown begins, and only then is the connection handed to the engine.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket

import pytest

from netdiag.adapters.servers import asyncio_engine as aio
from netdiag.adapters.servers import thread_engine as threads
from netdiag.adapters.servers.accepting import Acceptor
from netdiag.adapters.servers.eventlog import EventLog
from netdiag.adapters.servers.settings import LogFormat, ServerSettings
from netdiag.adapters.servers.shared import peer_name
from netdiag.render.log_lines import json_line

TOLD = b"server shutting down"


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def refusals(log: io.StringIO) -> list[dict[str, object]]:
    events = [json.loads(line) for line in log.getvalue().splitlines()]
    return [e for e in events if e["event"] == "refused"]


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_asyncio_engine_says_it_is_shutting_down(loop_name: str) -> None:
    out = io.StringIO()

    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        hub = aio.Hub(ServerSettings(log=LogFormat.JSON), EventLog(json_line, out), loop)
        with socket.create_server(("127.0.0.1", 0)) as listener, \
                socket.create_connection(listener.getsockname()[:2], timeout=5) as client:
            acceptor = Acceptor(loop, listener, lambda address: aio.TcpConnection(hub, address),
                                lambda exc: None)
            conn, address = listener.accept()
            acceptor.hand_over(conn, address)  # what accept_batch does; the protocol is made later
            await aio.shut_down(hub, acceptor)  # the signal arrived: shut_down runs first
            await asyncio.gather(*acceptor.handing_over)
            return await loop.run_in_executor(None, read_all, client)

    told = pytest.importorskip("uvloop").run(main()) if loop_name == "uvloop" else asyncio.run(main())
    assert told.startswith(TOLD) and b"--max-clients" not in told, told
    assert [e["reason"] for e in refusals(out)] == ["shutdown"]


def test_thread_engine_says_it_is_shutting_down() -> None:
    out = io.StringIO()
    with socket.create_server(("127.0.0.1", 0)) as listener, \
            socket.create_connection(listener.getsockname()[:2], timeout=5) as client:
        conn, address = listener.accept()
        server = threads.ThreadServer(listener, ServerSettings(log=LogFormat.JSON),
                                      EventLog(json_line, out))
        server.stop.set()  # the signal handler ran while accept() was returning this connection
        server.start_client(conn, peer_name(address))
        client.settimeout(2)
        try:
            told = read_all(client)
        finally:
            client.close()  # before the fix the connection was served: let its thread end
            for thread in list(server.threads):  # a thread leaves the set as it ends
                thread.join(timeout=5)
            server.log.flush()  # the log's writer thread writes the event: wait for it, as at exit
    assert told.startswith(TOLD) and b"--max-clients" not in told, told
    assert [e["reason"] for e in refusals(out)] == ["shutdown"]
