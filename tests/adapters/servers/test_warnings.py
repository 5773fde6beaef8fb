"""The engines report shortages as facts (kind, the system's words, the retry pause), never as
sentences naming the CLI's flags: the CLI words them (render/listen_view.py)."""

from __future__ import annotations

import errno

from netdiag.adapters.servers.accepting import RETRY_AFTER
from netdiag.adapters.servers.asyncio_engine import accept_warnings
from netdiag.core.protocols.events import ServerWarning, ShortageKind


def test_accept_failures_are_reported_as_facts_once_per_period() -> None:
    heard: list[ServerWarning] = []
    failed = accept_warnings(heard.append)
    failed(OSError(errno.EMFILE, "Too many open files"))
    failed(OSError(errno.EPROTO, "Protocol error"))  # within WARN_EVERY: not repeated
    assert heard == [ServerWarning(ShortageKind.ACCEPT_OUT_OF_FILES, "Too many open files")]


def test_other_accept_failures_say_when_the_engine_retries() -> None:
    heard: list[ServerWarning] = []
    accept_warnings(heard.append)(OSError(errno.EPROTO, "Protocol error"))
    assert heard == [ServerWarning(ShortageKind.ACCEPT_FAILED, "Protocol error", retry_after=RETRY_AFTER)]


def test_no_listener_no_warning() -> None:
    accept_warnings(None)(OSError(errno.EMFILE, "Too many open files"))
