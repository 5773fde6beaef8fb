"""The portable paths that macOS and Windows take, run natively here with platform.without(...).

Same real loopback sockets as the Linux paths' tests; the answers must be the same.
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import struct
from collections.abc import Iterator

import pytest
from helpers.socket_set import controlled_sockets

from netdiag.adapters import platform
from netdiag.adapters.listing import list_sockets
from netdiag.adapters.probing.engine import TcpScan
from netdiag.adapters.probing.scan import ProbeJob, probe_udp, scan_tcp
from netdiag.adapters.probing.workers import worker_count
from netdiag.adapters.servers.accepting import Acceptor, Address
from netdiag.core.probe import PortState, Reason

pytestmark = pytest.mark.portable
DEADLINE = 5.0
WITHOUT_LINUX = ("epoll", "nonblocking_flag", "fork", "netlink", "loop_signals", "loop_readers", "dontwait")


@pytest.fixture
def portable() -> Iterator[None]:
    with platform.without(*WITHOUT_LINUX):
        yield


def test_without_reverts_and_refuses_unknown_features() -> None:
    native = platform.has_epoll()
    with platform.without("epoll"):
        assert not platform.has_epoll()
        with platform.without("fork"):
            assert not platform.has_fork() and not platform.has_epoll()
        assert not platform.has_epoll()
    assert platform.has_epoll() is native
    with pytest.raises(ValueError, match="unknown features"), platform.without("kqueue"):
        pass


@pytest.mark.usefixtures("portable")
def test_the_portable_scanner_waits_on_selectors_and_gives_the_same_verdicts(listener: int,
                                                                               closed_port: int) -> None:
    assert platform.nonblocking_flag() == 0
    scan = TcpScan([], timeout=1, concurrency=10)
    assert isinstance(scan.poller.selector, selectors.BaseSelector)  # type: ignore[union-attr]
    scan.poller.close()
    # 4 connections: the listener fixture accepts none, and its backlog holds 8
    jobs = [ProbeJob("127.0.0.1", "127.0.0.1", port) for port in (listener, closed_port)] * 4
    results = scan_tcp(jobs, timeout=2, concurrency=16)
    assert [(r.port, r.state, r.reason) for r in results[:2]] == [
        (listener, PortState.OPEN, Reason.SYN_ACK), (closed_port, PortState.CLOSED, Reason.CONN_REFUSED)]
    assert {(r.port, r.state) for r in results} == {(listener, PortState.OPEN),
                                                    (closed_port, PortState.CLOSED)}


@pytest.mark.usefixtures("portable")
def test_the_portable_udp_scanner_sees_port_unreachable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
    result = probe_udp("127.0.0.1", port, timeout=2)
    assert result.state is PortState.CLOSED


@pytest.mark.usefixtures("portable")
def test_without_fork_a_big_scan_stays_in_one_process() -> None:
    assert worker_count(65535, 1000) == 1


def test_with_fork_a_big_scan_is_shared_out() -> None:
    assert worker_count(65535, 1000, workers=2) == 2


@pytest.mark.usefixtures("portable")
def test_without_netlink_the_listing_comes_from_psutil_and_sees_the_same_sockets() -> None:
    with controlled_sockets() as opened:
        rows = [r for r in list_sockets(("tcp", "udp")).rows
                if opened.ours(r.proto, r.local_address, r.local_port, r.remote_address, r.remote_port)]
    assert sorted(r.state for r in rows).count("LISTEN") == 2


class Recorder(asyncio.Protocol):
    def __init__(self, address: Address, ended: asyncio.Queue[tuple[Address, Exception | None]]) -> None:
        self.address, self.ended = address, ended

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended.put_nowait((self.address, exc))


async def _until(condition: object, what: str) -> None:
    """Yield to the loop until ``condition()`` holds, for at most DEADLINE seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not condition():  # type: ignore[operator]
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.mark.usefixtures("portable")
def test_accepting_without_add_reader_uses_sock_accept_and_names_each_client() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ended: asyncio.Queue[tuple[Address, Exception | None]] = asyncio.Queue()
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        names = {client.getsockname() for client in clients}
        for client in clients:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
        acceptor = Acceptor(loop, listener, lambda address: Recorder(address, ended), pytest.fail)
        assert not acceptor.watching
        acceptor.start()
        assert acceptor.accepting is not None
        try:
            seen = [await asyncio.wait_for(ended.get(), DEADLINE) for _ in clients]
        finally:
            acceptor.close()
        assert {tuple(address) for address, _ in seen} == names
        await _until(lambda: listener.fileno() == -1, "the listener to be closed once the task let go")

    asyncio.run(main())


@pytest.mark.usefixtures("portable")
def test_accepting_without_add_reader_pauses_when_accept_fails_for_the_listener() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        failures: list[OSError] = []
        with socket.socket() as not_listening:
            not_listening.bind(("127.0.0.1", 0))
            acceptor = Acceptor(loop, not_listening, pytest.fail, failures.append)
            acceptor.start()
            await _until(lambda: failures, "accept() to fail")
            assert len(failures) == 1 and acceptor.retry is not None and acceptor.accepting is None
            acceptor.close()
            assert acceptor.retry.cancelled()

    asyncio.run(main())


@pytest.mark.usefixtures("portable")
def test_stop_signals_without_loop_handlers_use_signal_module() -> None:
    """Ctrl-C (SIGINT, raised in-process: portable to Windows) reaches the loop through signal.signal."""
    import signal

    async def main() -> None:
        stopped = asyncio.Event()
        before = signal.getsignal(signal.SIGINT)
        undo = platform.on_stop_signals(asyncio.get_running_loop(), stopped.set)
        try:
            installed = signal.getsignal(signal.SIGINT)
            assert callable(installed) and installed is not before
            signal.raise_signal(signal.SIGINT)
            await asyncio.wait_for(stopped.wait(), DEADLINE)
        finally:
            undo()
        assert signal.getsignal(signal.SIGINT) is before

    asyncio.run(main())
