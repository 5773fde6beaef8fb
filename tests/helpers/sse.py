"""A minimal server-sent events client on a plain socket: the tests read the lecture stream with it."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SseEvent:
    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SseClient:
    """``GET path`` on ``port``; ``status`` is the HTTP status, ``next_event()`` the events in order."""

    port: int
    path: str = "/events"
    host: str = "127.0.0.1"
    timeout: float = 10.0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    _sock: socket.socket | None = None
    _buffer: bytes = b""

    def connect(self) -> SseClient:
        self._sock = socket.create_connection((self.host, self.port), self.timeout)
        self._sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                           "Accept: text/event-stream\r\n\r\n".encode())
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        pairs = (line.partition(":") for line in lines[1:] if line)
        self.headers = {name.lower(): value.strip() for name, _, value in pairs}
        return self

    def _read_until(self, marker: bytes) -> bytes:
        assert self._sock is not None
        while marker not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the stream")
            self._buffer += chunk
        part, self._buffer = self._buffer.split(marker, 1)
        return part

    def next_event(self) -> SseEvent:
        """The next event with data (comments and the retry directive are skipped)."""
        while True:
            block = self._read_until(b"\n\n").decode()
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                if line.startswith(":") or ":" not in line:
                    continue
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
            if "data" in fields:
                return SseEvent(fields.get("event", "message"), fields["data"], fields.get("id"))

    def body(self) -> bytes:
        """The rest of a short, closed response (an error page)."""
        length = int(self.headers.get("content-length", "0"))
        while len(self._buffer) < length:
            assert self._sock is not None
            chunk = self._sock.recv(65536)
            if not chunk:
                break
            self._buffer += chunk
        return self._buffer[:length]

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
