"""The actions behind ``netdiag tour``, on real loopback sockets, yielding one ``TourStep`` per stage.

The server is a real ``netdiag listen 127.0.0.1:0 --mode echo --log json`` child process (so it shows up
in the socket listing as another program, and is stopped with SIGTERM like a user would), followed
through its JSON event log. The client is a plain socket of this process. The listings come from the
sockets command's ``list_sockets``, the probes from the probe command's ``probe_tcp``, the capture from the
handshake command's adapter: the tour shows what those commands show, computed the same way.

Nothing leaves 127.0.0.0/8. Every wait has a deadline; the generator's ``finally`` stops the server even
when the user presses Ctrl-C between steps.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from netdiag.adapters.platform import (
    capture_advice,
    capture_missing,
    die_with_parent,
    may_capture,
    other_loopback_address,
)
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import NetdiagError
from netdiag.core.sockets import SocketRow
from netdiag.core.tour import (
    TourStep,
    established_step,
    exchange_step,
    handshake_step,
    listening_step,
    loopback_only_step,
    next_steps_step,
    refused_step,
    time_wait_step,
    unavailable_step,
)

LOOPBACK = "127.0.0.1"
MESSAGE = b"hello"
START_TIMEOUT = 15.0
STATE_TIMEOUT = 5.0
POLL = 0.02


class TourServer:
    """A ``netdiag listen`` child process, its events read by a thread (no sleeps: waits poll events)."""

    def __init__(self) -> None:
        argv = [sys.executable, "-m", "netdiag", "listen", f"{LOOPBACK}:0", "--mode", "echo",
                "--log", "json"]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                        start_new_session=True,  # Ctrl-C reaches the tour, not the server
                                        preexec_fn=die_with_parent())
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = 0

    def wait_until_listening(self) -> None:
        self.port = int(self.wait_for(lambda e: e.get("event") == "listening", START_TIMEOUT)["port"])

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(json.JSONDecodeError):
                self.events.append(json.loads(line))

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((e for e in list(self.events) if predicate(e)), None)
            if found is not None:
                return found
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(POLL)
        raise TimeoutError("the tour's server did not report what was expected in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class BuiltinServer:
    """A one-thread echo server: the fallback when ``netdiag listen`` cannot start (said in the tour)."""

    def __init__(self) -> None:
        self.sock = socket.create_server((LOOPBACK, 0))
        self.port = int(self.sock.getsockname()[1])
        self.pid = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # OSError: the listening socket was closed by stop()
            while True:
                conn, _ = self.sock.accept()
                with conn:
                    while data := conn.recv(65536):
                        conn.sendall(data)

    def stop(self) -> None:
        self.sock.close()


def _start_server() -> TourServer | BuiltinServer:
    try:
        server = TourServer()
    except OSError:  # the interpreter could not be started at all
        return BuiltinServer()
    try:
        server.wait_until_listening()
    except TimeoutError:
        server.stop()
        return BuiltinServer()
    return server


def _listing(port: int) -> tuple[list[SocketRow], str | None]:
    """TCP sockets using ``port`` locally or remotely, and the listing's note when it is incomplete."""
    from netdiag.adapters.listing import list_sockets

    listing = list_sockets(("tcp",))
    rows = [row for row in listing.rows if port in (row.local_port, row.remote_port)
            and row.family == "ipv4"]
    return rows, None if listing.complete else listing.note


def _wait_for_rows(port: int, wanted: Callable[[list[SocketRow]], bool]) -> tuple[list[SocketRow], bool]:
    """Poll the listing until ``wanted(rows)`` holds (True) or the deadline passes (False, last rows)."""
    deadline = time.monotonic() + STATE_TIMEOUT
    while True:
        rows, _ = _listing(port)
        if wanted(rows):
            return rows, True
        if time.monotonic() >= deadline:
            return rows, False
        time.sleep(POLL)


def _lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, read from the interfaces (no traffic is sent)."""
    import psutil

    found = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                found.append(address.address)
    return sorted(set(found))


def _closed_port() -> socket.socket:
    """A socket bound to a free loopback port that does not listen: the port is reserved and refuses."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    return sock


def run_tour(*, capture: bool | None = None) -> Generator[TourStep, None, None]:
    """Run the tour's stages in order; ``capture`` (the handshake step) defaults to ``may_capture()``."""
    if capture is None:
        capture = may_capture()
    server = _start_server()
    try:
        yield from _stages(server, capture=capture)
    finally:
        server.stop()


def _stages(server: TourServer | BuiltinServer, *, capture: bool) -> Iterator[TourStep]:
    port = server.port
    rows, _ = _wait_for_rows(port, lambda rs: any(r.state == "LISTEN" and r.local_port == port for r in rs))
    yield listening_step(port, rows, server_pid=server.pid, builtin_server=isinstance(server, BuiltinServer))

    client = socket.create_connection((LOOPBACK, port), timeout=STATE_TIMEOUT)
    client_port = int(client.getsockname()[1])
    try:
        client.sendall(MESSAGE)
        reply = b""
        while len(reply) < len(MESSAGE) and (chunk := client.recv(4096)):
            reply += chunk
        yield exchange_step(port, client_port, MESSAGE, reply)

        rows, _ = _wait_for_rows(port, lambda rs: sum(
            r.state == "ESTABLISHED" and client_port in (r.local_port, r.remote_port) for r in rs) == 2)
        yield established_step(port, client_port, [r for r in rows if _of_connection(r, port, client_port)])
    finally:
        client.close()  # the client closes first: its side goes to TIME_WAIT

    rows, seen = _wait_for_rows(port, lambda rs: any(
        r.state == "TIME_WAIT" and r.local_port == client_port for r in rs))
    yield time_wait_step(port, client_port, [r for r in rows if _of_connection(r, port, client_port)],
                         seen=seen)

    yield _refused()
    yield _loopback_only(port)
    yield _handshake(port, capture=capture)
    yield next_steps_step()


def _of_connection(row: SocketRow, port: int, client_port: int) -> bool:
    return row.state == "LISTEN" or client_port in (row.local_port, row.remote_port)


def _refused() -> TourStep:
    try:
        from netdiag.adapters.probing.scan import probe_tcp
    except ImportError as exc:
        return unavailable_step("A closed port refuses", "netdiag probe", str(exc))
    with _closed_port() as reserved:
        result = probe_tcp(LOOPBACK, int(reserved.getsockname()[1]), timeout=2.0)
    return refused_step(result, explanation_for(Cause.NOTHING_LISTENING))


def _loopback_only(port: int) -> TourStep:
    try:
        from netdiag.adapters.probing.scan import probe_tcp
    except ImportError as exc:
        return unavailable_step("What a loopback-only bind means", "netdiag probe", str(exc))
    on_bound = probe_tcp(LOOPBACK, port, timeout=2.0)
    on_other = probe_tcp(other_loopback_address(), port, timeout=2.0)
    return loopback_only_step(port, on_bound, on_other, _lan_addresses())


def _handshake(port: int, *, capture: bool) -> TourStep:
    if not capture:
        missing = capture_missing()
        return handshake_step(port, None, unavailable=(
            f"No packets are captured here ({missing}): {capture_advice()}." if missing is not None
            else "Not run as root (nor with CAP_NET_RAW), so no packets are captured."))
    try:
        from netdiag.adapters.capture.live import capture_connection
        from netdiag.core.handshake import analyse_connection
    except ImportError as exc:
        return handshake_step(port, None, unavailable=f"Packet capture is not available: {exc}.")
    try:
        result = capture_connection(LOOPBACK, port, message=MESSAGE + b"\n", timeout=5.0)
        if not result.segments:
            return handshake_step(port, None, unavailable="The capture saw no packets on loopback.")
        analysis = analyse_connection(result.segments, client=result.client, server=result.server,
                                      waited=result.waited)
    except NetdiagError as err:
        return handshake_step(port, None, unavailable=err.message)
    return handshake_step(port, analysis, unavailable=None)
