"""Tools for the fault suite: a witness client per mode, resource counts of the server, hostile clients.

The suite's promise after every scenario: the server still answers a fresh client correctly, the witness
(a client connected through the whole scenario) was not disturbed, and the server's file descriptors and
threads return to what they were before (waited for with a deadline, never slept for).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil
from helpers.servers import ServerHandle
from helpers.waiting import wait_until

MODES = ("echo", "reply", "greet", "chat", "sink")
GREETING = b"You are connected"
IO_TIMEOUT = 5.0
SETTLE_TIMEOUT = 15.0


def peer_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def connect(server: ServerHandle) -> socket.socket:
    sock = socket.create_connection(server.address, timeout=IO_TIMEOUT)
    return sock


def close_with_reset(sock: socket.socket) -> None:
    """Close so the kernel sends RST instead of FIN (SO_LINGER on, timeout 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@dataclass(frozen=True)
class Resources:
    fds: int
    threads: int
    rss: int


def resources(server: ServerHandle) -> Resources:
    proc = psutil.Process(server.process.pid)
    with proc.oneshot():
        return Resources(proc.num_fds(), proc.num_threads(), proc.memory_info().rss)


def steady_resources(server: ServerHandle, mode: str) -> Resources:
    """The server's descriptors and threads after one warm-up client: the baseline of the leak checks.

    uvloop's libuv opens one reserve descriptor with the first connection it takes (kept for running
    out of descriptors), once per process; that is start-up, not a leak. The baseline is read once the
    server has closed the warm-up connection's socket (psutil lists the sockets a process holds; a
    ``--quiet`` server logs no close to wait for).
    """
    port = fresh_client_works(server, mode, "warm-up").sock_port
    process = psutil.Process(server.process.pid)
    wait_until(lambda: all(not c.raddr or c.raddr.port != port for c in process.net_connections("tcp")),
               timeout=SETTLE_TIMEOUT, what="the server to close the warm-up connection")
    return resources(server)


def wait_back_to(server: ServerHandle, baseline: Resources, what: str) -> Resources:
    """Wait (deadline) until the server holds no more fds and threads than ``baseline``."""
    last: list[Resources] = []

    def settled() -> bool:
        now = resources(server)
        last[:] = [now]
        return now.fds <= baseline.fds and now.threads <= baseline.threads

    try:
        wait_until(settled, timeout=SETTLE_TIMEOUT, interval=0.05, what=what)
    except AssertionError as err:
        raise AssertionError(f"{what}: server holds {last[0]} vs baseline {baseline}") from err
    return last[0]


@dataclass
class Client:
    """A client with a reader thread: everything received is kept, EOF and errors are recorded."""

    server: ServerHandle
    mode: str
    sock: socket.socket = field(init=False)
    received: bytearray = field(default_factory=bytearray)
    eof: bool = False
    error: OSError | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sock = connect(self.server)
        self.sock.settimeout(None)
        self.peer = peer_of(self.sock)
        self.sock_port: int = self.sock.getsockname()[1]
        self.reader = threading.Thread(target=self._read, daemon=True, name=f"reader {self.peer}")
        self.reader.start()

    def _read(self) -> None:
        try:
            while data := self.sock.recv(65536):
                with self.lock:
                    self.received += data
        except OSError as exc:
            self.error = exc
        self.eof = True

    def text(self) -> bytes:
        with self.lock:
            return bytes(self.received)

    def forget_received(self) -> None:
        with self.lock:
            del self.received[:]

    def wait_for(self, condition: Callable[[bytes], bool], what: str,
                 timeout: float = IO_TIMEOUT) -> bytes:
        def holds() -> bytes | None:
            data = self.text()
            return data if condition(data) else None

        try:
            return wait_until(holds, timeout=timeout, what=what)
        except AssertionError as err:
            raise AssertionError(f"{err}; {self.peer} received {self.text()[-300:]!r}, eof={self.eof}, "
                                 f"error={self.error!r}") from err

    def greet(self) -> None:
        """What every mode does right after accept (the welcome, the greeting, or nothing)."""
        if self.mode == "greet":
            self.wait_for(lambda d: d == GREETING, "the greeting")
        elif self.mode == "chat":
            self.wait_for(lambda d: b"* welcome " in d and d.endswith(b"\n"), "the chat welcome")

    def exchange(self, tag: str) -> None:
        """One request and its correct answer, for this mode (greet: its one message, then the close)."""
        assert not self.eof, f"{self.peer} was disconnected: error={self.error!r}"
        self.forget_received()
        message = f"{tag} from {self.peer}\n".encode()
        self.sock.sendall(message if self.mode != "chat" else b"/who\n")
        if self.mode == "echo":
            self.wait_for(lambda d: d == message, f"the echo of {message!r}")
        elif self.mode == "reply":
            self.wait_for(lambda d: d == b"accepted\n", "accepted")
        elif self.mode == "chat":
            self.wait_for(lambda d: b" here: " in d, "the answer to /who")
        elif self.mode == "sink":
            self.server.wait_for(
                lambda e: e.get("event") == "recv" and e.get("peer") == self.peer
                and tag in e.get("text", ""), what=f"the sink to log {tag!r} from {self.peer}")
        else:  # greet: the server reads one message, logs it, closes this connection
            wait_until(lambda: self.eof, timeout=IO_TIMEOUT, what=f"greet to close {self.peer}")
            self.server.wait_for_event("close", peer=self.peer, reason="greeted")

    def close(self) -> None:
        # shutdown() first: close() alone does not wake the reader blocked in recv(), and the kernel
        # would keep the connection open (no FIN) until that recv() returns.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.reader.join(timeout=IO_TIMEOUT)
        self.sock.close()


def fresh_client_works(server: ServerHandle, mode: str, tag: str = "fresh") -> Client:
    """A new client gets the right answer for ``mode``; returns it, closed."""
    client = Client(server, mode)
    try:
        client.greet()
        client.exchange(tag)
    finally:
        client.close()
    return client


@dataclass(frozen=True)
class AttackResult:
    peer: str
    received: bytes
    eof: bool


def attack(server: ServerHandle, chunks: list[bytes], *, half_close: bool = True, reset: bool = False,
           read_until_eof: bool = True, pause: float = 0.0) -> AttackResult:
    """One hostile client: send ``chunks`` (``pause`` s apart), half-close, read what comes (bounded).

    Failures to send (the server cut us off, as it should for some inputs) are part of the scenario, not
    errors of the test. Returns the client's address, what the server sent back, and whether EOF came.
    """
    sock = connect(server)
    peer = peer_of(sock)
    received = bytearray()
    eof = False
    sender_done = threading.Event()

    def send_all() -> None:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                if pause:
                    time.sleep(pause)  # the attack's own pace (slowloris), not synchronisation
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sender_done.set()

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    deadline = time.monotonic() + IO_TIMEOUT + pause * len(chunks)
    sock.settimeout(0.2)
    while read_until_eof and time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not data:
            eof = True
            break
        received += data
    sender_done.wait(timeout=IO_TIMEOUT + pause * len(chunks))
    if reset:
        close_with_reset(sock)
    else:
        sock.close()
    sender.join(timeout=IO_TIMEOUT)
    return AttackResult(peer, bytes(received), eof)


def run_parallel(count: int, work: Callable[[int], object], workers: int = 8) -> list[object]:
    """Run ``work(i)`` for i in range(count) on ``workers`` threads; re-raise the first failure."""
    results: list[object] = [None] * count
    failures: list[BaseException] = []
    indexes = iter(range(count))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(indexes, None)
            if i is None:
                return
            try:
                results[i] = work(i)
            except BaseException as exc:  # handed back to the test thread below
                failures.append(exc)
                return

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(workers, count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if failures:
        raise failures[0]
    return results


# -- a client that stops reading, fills the server's send queue, then ends its session ------------------

FILL_STEP = 32 * 1024
"""Bytes of answers per step while filling: below the asyncio transports' 64 KiB high-water mark, so
the server still reads the client's last words (its ``close``, ``/quit`` or FIN) after the last step."""
MAX_FILL_STEPS = 400
"""At most 12.8 MB of answers: far more than the kernel holds for a client that does not read."""
ENDING = {"echo": ("eof", None), "reply": ("quit", b"close\n"), "chat": ("quit", b"/quit\n")}
"""How a session ends in each mode that answers: the close reason, and what the client sends (echo:
a half-close)."""


def server_send_queue(server_port: int, client_port: int) -> int:
    """Bytes queued in the kernel on the server's side of one loopback connection (sent, unacknowledged
    or not yet sent): the tx_queue column of /proc/net/tcp."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
                return int(fields[4].split(":")[0], 16)
    raise AssertionError(f"no connection 127.0.0.1:{server_port} <- :{client_port} in /proc/net/tcp")


@dataclass
class SentTo:
    """Bytes the server has logged sending to ``peer`` so far (reads only the events new since the last
    call: a reply-mode fill logs hundreds of thousands of ``send`` events)."""

    server: ServerHandle
    peer: str
    seen: int = 0
    total: int = 0

    def __call__(self) -> int:
        events = self.server.events
        end = len(events)
        self.total += sum(e.get("bytes", 0) for e in events[self.seen:end]
                          if e.get("event") == "send" and e.get("peer") == self.peer)
        self.seen = end
        return self.total


@dataclass
class StuckClient:
    """A client that never reads (4 KiB receive buffer) and has ended its session; still connected."""

    sock: socket.socket
    peer: str
    name: bytes
    """Its chat name (``user7``); empty in other modes."""


def stuck_after_ending(server: ServerHandle, mode: str) -> StuckClient:
    """Stop reading, fill the server's send queue until data waits in the server itself (the kernel
    took less than a step), then end the session the mode's way; returns once ``close`` is logged.

    Chat: a second member talks and the stuck one receives. The steps are waited for on the server's
    ``send`` events, and the kernel's share is read from /proc/net/tcp (never slept for).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.settimeout(IO_TIMEOUT)
    sock.connect(server.address)
    peer, port = peer_of(sock), sock.getsockname()[1]
    name = b""
    talker: Client | None = None
    if mode == "chat":
        welcome = b""
        while not welcome.endswith(b"\n"):
            welcome += sock.recv(1)
        name = welcome.split(b",")[0].removeprefix(b"* welcome ")
        talker = Client(server, mode)
        talker.greet()
        talker_name = talker.text().split(b",")[0].removeprefix(b"* welcome ")
    server.wait_for_event("connect", peer=peer)
    sent_to = SentTo(server, peer)
    expected = sent_to()
    queued = server_send_queue(server.port, port)
    for _ in range(MAX_FILL_STEPS):
        if mode == "echo":
            sock.sendall(b"e" * FILL_STEP)
            expected += FILL_STEP
        elif mode == "reply":
            lines = FILL_STEP // len(b"accepted\n")
            sock.sendall(b"r\n" * lines)
            expected += lines * len(b"accepted\n")
        else:
            assert talker is not None
            text = b"t" * 1000
            lines = FILL_STEP // len(text)
            talker.sock.sendall((text + b"\n") * lines)
            expected += lines * len(talker_name + b": " + text + b"\n")
        wait_until(lambda want=expected: sent_to() >= want, timeout=SETTLE_TIMEOUT,
                   what=f"the server to send {expected} bytes to {peer}")
        before, queued = queued, server_send_queue(server.port, port)
        if queued - before < FILL_STEP // 2:
            break  # the kernel is full: the rest of this step waits in the server's own queue
    else:
        raise AssertionError(f"the kernel still took data after {MAX_FILL_STEPS} steps")
    reason, last_words = ENDING[mode]
    if last_words is None:
        sock.shutdown(socket.SHUT_WR)
    else:
        sock.sendall(last_words)
    server.wait_for_event("close", timeout=SETTLE_TIMEOUT, peer=peer, reason=reason)
    if talker is not None:
        talker.close()
    return StuckClient(sock, peer, name)


def holds_connection_from(server: ServerHandle, client_port: int) -> bool:
    """Whether the server process still has a socket connected to that client port (psutil)."""
    process = psutil.Process(server.process.pid)
    return any(c.raddr and c.raddr.port == client_port for c in process.net_connections("tcp"))
