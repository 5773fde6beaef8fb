"""Read a child's output stream in a thread, so tests can wait on its lines with a deadline."""

from __future__ import annotations

import threading
from typing import Any


class LineReader:
    """Collects a stream's lines in a thread, so tests can wait on them with a deadline."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(5)
