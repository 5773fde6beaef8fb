"""What the lab protocols are and their limits, cheap to import (`netdiag listen` builds options from them).

How they are served (engine, log format) is the servers' business: ``netdiag.adapters.servers.settings``.
"""

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
