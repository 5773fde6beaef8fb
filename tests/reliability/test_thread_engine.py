"""The thread engine at its own limits: the system's limit on threads, and a big chat room.

A thread per client is the lab's design; these are the two ways it runs out. Under a limit on threads
(``RLIMIT_NPROC``, a container's ``pids.max``, systemd's ``TasksMax``) a client whose thread cannot start
must be refused like one over ``--max-clients``, never kill the server. In a chat room of hundreds, the
engine must keep one thread per member (a writer thread per member made every line wake them all) and
still end cleanly on SIGTERM. Timings are printed, not asserted: bench/chat_scale.py measures them.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import time
from contextlib import ExitStack

import pytest
from helpers.servers import ServerHandle, recv_line, running_server
from helpers.waiting import wait_until
from reliability.harness import IO_TIMEOUT, Client, fresh_client_works, resources, wait_back_to
from reliability.test_limits import raise_fd_limit

CLIENT_THREADS = 3
"""Threads the server may start besides its main one, in the thread-limit test."""


def admitted_or_refused(server: ServerHandle, peer: str) -> str:
    """``connect`` when the server started a thread for ``peer``, ``refused`` when it could not."""
    def seen() -> str | None:
        if server.process.poll() is not None:
            raise AssertionError(f"the server died: {''.join(server.stderr_lines)[-1500:]}")
        event = next((e for e in list(server.events) if e.get("event") in ("connect", "refused")
                      and e.get("peer") == peer), None)
        return None if event is None else str(event["event"])

    return wait_until(seen, timeout=IO_TIMEOUT, what=f"the server to admit or refuse {peer}")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv: RLIMIT_NPROC binds only a server run as another user")
@pytest.mark.parametrize("mode", ["echo", "chat"])
def test_a_client_over_the_thread_limit_is_refused_and_the_others_are_served(mode: str) -> None:
    with running_server("--mode", mode, "--engine", "threads", max_threads=CLIENT_THREADS) as server:
        baseline = resources(server)
        members: list[Client] = []
        refused: Client | None = None
        try:
            for _ in range(CLIENT_THREADS + 5):  # bounded; other tasks of nobody may lower the limit
                client = Client(server, mode)
                if admitted_or_refused(server, client.peer) == "refused":
                    refused = client
                    break
                client.greet()
                members.append(client)
            assert refused is not None, f"{len(members)} clients admitted under a limit of {CLIENT_THREADS}"
            told = refused.wait_for(lambda d: d.endswith(b"\n"), "the refusal notice")
            assert told.startswith(b"server busy") and b"thread" in told, told
            wait_until(lambda: refused.eof, timeout=IO_TIMEOUT, what="the refused client to be closed")
            event = server.wait_for_event("refused", peer=refused.peer)
            assert event["reason"] == "thread-limit"
            assert members, "no client was admitted at all"
            for member in members:  # the clients already served go on undisturbed
                member.exchange("under the thread limit")
            leaving = members.pop()
            leaving.close()
            server.wait_for(lambda e: e.get("event") in ("close", "reset") and e.get("peer") == leaving.peer,
                            what="the leaving client's close")
            threads_before = baseline.threads + len(members)
            wait_until(lambda: resources(server).threads <= threads_before, timeout=IO_TIMEOUT,
                       what="the leaving client's thread to end")
            fresh_client_works(server, mode, "after a thread was freed")  # its thread is usable again
        finally:
            for client in [*members, *([refused] if refused else [])]:
                client.close()
        wait_back_to(server, baseline, "fds and threads back after the thread-limit scenario")
        stderr = "".join(server.stderr_lines)
        assert "warning: cannot start a thread for another client" in stderr, stderr
        assert "Traceback" not in stderr, stderr


class Room:
    """Chat members read by one selector from the test thread (not a thread per member here)."""

    def __init__(self, server: ServerHandle, size: int, stack: ExitStack) -> None:
        self.selector = selectors.DefaultSelector()
        stack.callback(self.selector.close)
        self.members: list[socket.socket] = []
        self.received: dict[socket.socket, bytearray] = {}
        self.ended: set[socket.socket] = set()
        for _ in range(size):
            sock = socket.create_connection(server.address, timeout=IO_TIMEOUT)
            stack.callback(sock.close)
            sock.setblocking(False)
            self.members.append(sock)
            self.received[sock] = bytearray()
            self.selector.register(sock, selectors.EVENT_READ)
            self.pump()

    def pump(self) -> None:
        """Read whatever has arrived, without waiting."""
        for key, _ in self.selector.select(timeout=0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                self.received[sock] += data
            else:
                self.ended.add(sock)
                self.selector.unregister(sock)

    def lines(self, sock: socket.socket) -> list[bytes]:
        return bytes(self.received[sock]).split(b"\n")[:-1]

    def everyone_heard_every_join(self) -> bool:
        """Each member reads its welcome (``* welcome userN, K here; ...``: it is the K-th in the room),
        then the join of each of the size - K members after it. The order in which members enter the
        room is their threads', not the order of their connects."""
        self.pump()
        size = len(self.members)
        for sock in self.members:
            lines = self.lines(sock)
            if not lines:
                return False
            here = int(lines[0].split(b", ", 1)[1].split()[0])
            if sum(b" joined from " in line for line in lines) != size - here:
                return False
        return True

    def everyone_ended(self) -> bool:
        self.pump()
        return len(self.ended) == len(self.members)

    def all_have(self, line: bytes, members: list[socket.socket]) -> bool:
        self.pump()
        return all(line in self.lines(sock) for sock in members)


CHAT_MEMBERS = 300


def test_a_chat_room_of_hundreds_keeps_one_thread_per_member_and_shuts_down_cleanly() -> None:
    raise_fd_limit(CHAT_MEMBERS + 256)
    with running_server("--mode", "chat", "--engine", "threads", "--quiet", check_exit=False) as server, \
            ExitStack() as stack:
        room = Room(server, CHAT_MEMBERS, stack)
        wait_until(room.everyone_heard_every_join, timeout=60, what="every member to hear every join")
        assert all(line.startswith(b"* welcome ") for line in (room.lines(s)[0] for s in room.members))
        # One thread per member, the main one and the event log's writer: no writer thread per member
        # (each line of the room woke them all), and none left over from the joins once their backlog
        # was written.
        threads = wait_until(lambda: (n := resources(server).threads) <= CHAT_MEMBERS + 2 and n,
                             timeout=IO_TIMEOUT, what=f"at most {CHAT_MEMBERS + 2} server threads")
        first, *others = room.members
        first.sendall(b"hello room\n")
        wait_until(lambda: room.all_have(b"user1: hello room", others), timeout=30,
                   what="the message at every other member")
        rss = resources(server).rss
        started = time.monotonic()
        code = server.stop(signal.SIGTERM, timeout=15)
        elapsed = time.monotonic() - started
        print(f"\nthread engine, chat with {CHAT_MEMBERS} members: {threads} threads, RSS "
              f"{rss / 1e6:.1f} MB; SIGTERM -> exit {code} after {elapsed:.3f} s")
        assert code == 0
        assert server.of("shutdown"), "no shutdown event"
        assert "Traceback" not in "".join(server.stderr_lines)
        wait_until(room.everyone_ended, timeout=IO_TIMEOUT, what="every member to see its connection end")
        assert room.all_have(b"* server shutting down, goodbye", room.members), "a member was not told"



BACKLOG_LINES = 6000
LINE = b"x" * 1000


def test_a_member_that_pauses_gets_every_line_in_order_through_its_writer_thread() -> None:
    """Lines a member's full buffer cannot take wait in its outbox for a writer thread; once it reads
    again, it gets every one, in order, and the writer thread ends with the backlog."""
    with running_server("--mode", "chat", "--engine", "threads", "--quiet", "--max-queue", "16000000") \
            as server, ExitStack() as stack:
        slow = socket.socket()
        stack.callback(slow.close)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(server.address)
        sender = socket.create_connection(server.address, timeout=IO_TIMEOUT)
        stack.callback(sender.close)
        slow.settimeout(IO_TIMEOUT)
        welcome = b""
        while b" joined from " not in welcome:  # its welcome, then the sender's join
            welcome += slow.recv(4096)
        threads = resources(server).threads  # main, and one per member
        for i in range(BACKLOG_LINES):  # about 6 MB: more than the kernel holds for a client that waits
            sender.sendall(b"%05d " % i + LINE + b"\n")
        wait_until(lambda: resources(server).threads > threads, timeout=IO_TIMEOUT,
                   what="a writer thread for the member that does not read")
        received = bytearray()
        expected = sum(len(b"user2: %05d " % i + LINE + b"\n") for i in range(BACKLOG_LINES))
        while len(received) < expected:
            chunk = slow.recv(1 << 20)
            assert chunk, f"EOF after {len(received)} of {expected} bytes"
            received += chunk
        lines = bytes(received).split(b"\n")[:-1]
        assert [line[7:12] for line in lines] == [b"%05d" % i for i in range(BACKLOG_LINES)]
        wait_until(lambda: resources(server).threads == threads, timeout=IO_TIMEOUT,
                   what="the writer thread to end with the backlog")
        sender.sendall(b"after the backlog\n")  # written directly again
        assert recv_line(slow) == b"user2: after the backlog\n"
