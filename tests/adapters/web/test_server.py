"""The lecture server on real loopback sockets, without a browser: order, bounds, read-only."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from helpers.sse import SseClient
from helpers.waiting import wait_until

from netdiag.adapters.web.server import LectureServer
from netdiag.core.failures import NetworkFailure

PAGE = b"<!DOCTYPE html><title>test page</title>"


@pytest.fixture
def server() -> Iterator[LectureServer]:
    with LectureServer(PAGE, json.dumps) as running:
        yield running


def request(port: int, raw: str) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(raw.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                headers = {k.lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in head.decode().split("\r\n")[1:])}
                if len(body) >= int(headers.get("content-length", "0")):
                    return int(head.split()[1]), headers, body
    raise AssertionError(f"no complete answer to {raw!r}")


def test_page_and_events_in_order(server: LectureServer) -> None:
    status, headers, body = request(server.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and body == PAGE and "default-src 'none'" in headers["content-security-policy"]
    client = SseClient(server.port).connect()
    try:
        assert client.status == 200 and client.headers["content-type"] == "text/event-stream"
        wait_until(lambda: server.clients == 1, what="the client to be registered")
        for number in range(500):
            server.publish({"n": number})
        received = [client.next_event() for _ in range(500)]
    finally:
        client.close()
    assert [e.json()["n"] for e in received] == list(range(500))
    assert [int(e.id or 0) for e in received] == list(range(1, 501))
    assert {e.event for e in received} == {"update"}


def test_a_late_viewer_sees_the_recent_events(server: LectureServer) -> None:
    for number in range(3):
        server.publish({"n": number})
    wait_until(lambda: server.stats.broadcast == 3, what="the broadcaster to take the events")
    client = SseClient(server.port).connect()
    try:
        assert [client.next_event().json()["n"] for _ in range(3)] == [0, 1, 2]
    finally:
        client.close()


def test_extra_clients_get_503_and_publishing_goes_on(server: LectureServer) -> None:
    clients = []
    try:
        for _ in range(300):
            clients.append(SseClient(server.port).connect())
        statuses = [c.status for c in clients]
        assert statuses.count(200) == 256 and statuses.count(503) == 44
        assert b"try again later" in clients[-1].body()
        assert clients[-1].headers["retry-after"] == "10"
        server.publish({"n": "after"})
        served = [c for c in clients if c.status == 200]
        assert all(c.next_event().json() == {"n": "after"} for c in served)
    finally:
        for c in clients:
            c.close()
    assert server.stats.refused_clients == 44 and server.stats.peak_clients == 256


def test_clients_that_do_not_read_are_dropped_and_never_block_the_publisher() -> None:
    with LectureServer(PAGE, json.dumps, client_buffer=64 * 1024) as server:
        stalled = [SseClient(server.port).connect() for _ in range(20)]  # they never read again
        try:
            wait_until(lambda: server.clients == 20, what="20 registered clients")
            filler = "x" * 4000
            for number in range(3000):  # ~12 MB per client: far beyond any socket buffer
                server.publish({"n": number, "pad": filler})
            assert server.stats.published == 3000, "publish() returned every time"
            wait_until(lambda: server.stats.dropped_clients == 20, timeout=30,
                       what="every stalled client to be dropped as slow")
            wait_until(lambda: server.stats.broadcast == 3000, timeout=30, what="the burst to be sent")
            fresh = SseClient(server.port).connect()
            try:
                server.publish({"n": "fresh"})
                wait_until(lambda: fresh.next_event().json().get("n") == "fresh", timeout=10,
                           what="a new viewer to get new events")
            finally:
                fresh.close()
        finally:
            for c in stalled:
                c.close()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_only_get_is_answered(server: LectureServer, method: str) -> None:
    status, headers, _ = request(server.port, f"{method} /events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                              "Connection: close\r\n\r\n")
    assert status == 405 and headers["allow"] == "GET"
    assert server.clients == 0


def test_unknown_paths_are_404_and_queries_do_nothing(server: LectureServer) -> None:
    assert request(server.port, "GET /etc/passwd HTTP/1.1\r\nConnection: close\r\n\r\n")[0] == 404
    status, _, body = request(server.port, "GET /?clear=1&port=22 HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status == 200 and body == PAGE


def test_a_port_in_use_is_explained() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(NetworkFailure, match="port is in use"):
            LectureServer(PAGE, json.dumps, port=port).start()


def test_garbage_requests_leave_the_stream_running(server: LectureServer) -> None:
    viewer = SseClient(server.port).connect()
    try:
        for raw in ("GARBAGE\r\n\r\n", "GET /" + "a" * 70000 + " HTTP/1.1\r\n\r\n", "\x00\xff\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
                sock.sendall(raw.encode("latin-1"))
                sock.shutdown(socket.SHUT_WR)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
                assert b"400" in answer or b"414" in answer, answer[:80]
        server.publish({"n": "still here"})
        assert viewer.next_event().json() == {"n": "still here"}
    finally:
        viewer.close()
