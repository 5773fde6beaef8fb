"""The server's event log, as meaning: the kinds of event (and the fields each carries, given by the
engines as keyword arguments), how much client text one event quotes, and the shortages a running server
reports on stderr.

Their two renderings (human line, JSON line) are ``netdiag.render.log_lines``: the engines emit meaning,
the CLI chooses the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

TEXT_LIMIT = 1000
"""Longest ``text`` shown for one chunk or datagram (the byte count is always exact)."""


class EventKind(str, Enum):
    LISTENING = "listening"
    CONNECT = "connect"
    RECV = "recv"
    SEND = "send"
    CLOSE = "close"
    RESET = "reset"
    REFUSED = "refused"
    DATAGRAM = "datagram"
    SHUTDOWN = "shutdown"
    DROPPED = "dropped"
    OBSERVING = "observing"
    UNANSWERED_SYN = "unanswered-syn"
    HANDSHAKE_INCOMPLETE = "handshake-incomplete"
    RESET_SENT = "reset-sent"
    REPEATED = "repeated"


class ShortageKind(str, Enum):
    """What the machine refused a running server (said on stderr, not in the log)."""

    ACCEPT_OUT_OF_FILES = "accept-out-of-files"  # accept() failed with EMFILE/ENFILE/ENOBUFS/ENOMEM
    ACCEPT_FAILED = "accept-failed"  # accept() failed otherwise; the engine retries after a pause
    OUT_OF_THREADS = "out-of-threads"  # no thread could be started for another client


@dataclass(frozen=True)
class ServerWarning:
    """A shortage while serving, as facts: the engines report it, the CLI words it (with its flags).

    ``detail`` is the system's own words (``strerror``, or the exception's text); ``retry_after`` the
    seconds before the engine tries again, when it does.
    """

    kind: ShortageKind
    detail: str
    retry_after: float | None = None
