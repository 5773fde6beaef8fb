"""A one-line progress bar on stderr, for long scans watched by a person (never into a pipe or a file).

Redrawn in place with ``\\r`` at most ten times a second (the prober throttles its callbacks) and erased
when the work ends, so the terminal is left exactly as the data output needs it.
"""

from __future__ import annotations

import time
from typing import TextIO

BAR_WIDTH = 30
SHOW_FROM = 200  # fewer probes than this finish too fast to need a bar


class ProgressBar:
    """``update(done, total)`` draws ``label [#####.....]  1234/65535  2% 0.4s``; ``close()`` erases it."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.started = time.monotonic()
        self.drawn = False

    def update(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        filled = int(BAR_WIDTH * fraction)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        elapsed = time.monotonic() - self.started
        line = f"{self.label} [{bar}] {done}/{total} {fraction:4.0%} {elapsed:.1f}s"
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


def progress_bar(stream: TextIO, *, interactive: bool, total: int, label: str) -> ProgressBar | None:
    """A bar when a person watches ``stream`` (a terminal) and the work is long enough; else None."""
    if not interactive or total < SHOW_FROM:
        return None
    return ProgressBar(stream, label)
