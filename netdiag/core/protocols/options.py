"""The choices of ``netdiag listen``, cheap to import (the CLI builds its options from them at start-up)."""

from __future__ import annotations

from enum import Enum

DEFAULT_MAX_LINE = 64 * 1024
DEFAULT_MAX_CLIENTS = 10_000
DEFAULT_MAX_QUEUE = 256 * 1024


class Mode(str, Enum):
    """``--mode``: which lab protocol the server speaks."""

    ECHO = "echo"
    REPLY = "reply"
    GREET = "greet"
    CHAT = "chat"
    SINK = "sink"


UDP_MODES = (Mode.ECHO, Mode.REPLY, Mode.SINK)


class Engine(str, Enum):
    """``--engine``: how connections are served (the protocols are the same)."""

    ASYNCIO = "asyncio"
    THREADS = "threads"


class LogFormat(str, Enum):
    """``--log``: human lines for watching, JSON lines for scripts and tests."""

    HUMAN = "human"
    JSON = "json"
