"""Colour on a Windows console: the colour decision asks whether the terminal draws escape codes, and the
platform module switches Windows' virtual terminal processing on (the console API injected here)."""

from __future__ import annotations

import io
import os
import pty

import pytest

from netdiag.adapters import platform
from netdiag.render.output import Output, colour_wanted

pytestmark = pytest.mark.portable

VT = platform.ENABLE_VIRTUAL_TERMINAL_PROCESSING


class Console:
    """GetConsoleMode / SetConsoleMode as a fake console: the mode, and whether setting it is allowed."""

    def __init__(self, mode: int | None, *, settable: bool = True) -> None:
        self.mode = mode
        self.settable = settable
        self.set_calls: list[int] = []

    def get(self) -> int | None:
        return self.mode

    def set(self, mode: int) -> bool:
        self.set_calls.append(mode)
        if self.settable:
            self.mode = mode
        return self.settable


def test_virtual_terminal_processing_is_switched_on_keeping_the_other_flags() -> None:
    console = Console(0x0003)  # ENABLE_PROCESSED_OUTPUT | ENABLE_WRAP_AT_EOL_OUTPUT, as a classic console
    assert platform.enable_virtual_terminal(console.get, console.set) is True
    assert console.set_calls == [0x0003 | VT] and console.mode == 0x0007


def test_a_console_that_has_it_on_is_left_alone() -> None:
    console = Console(0x0003 | VT)  # Windows Terminal
    assert platform.enable_virtual_terminal(console.get, console.set) is True
    assert console.set_calls == []


@pytest.mark.parametrize("console", [Console(None), Console(0x0003, settable=False)],
                         ids=["not-a-console", "refused (before Windows 10)"])
def test_no_colour_where_it_cannot_be_switched_on(console: Console) -> None:
    assert platform.enable_virtual_terminal(console.get, console.set) is False


def test_other_terminals_show_colour() -> None:
    assert platform.terminal_shows_colour(1) is True  # this Linux machine


def test_the_colour_decision_asks_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    primary, secondary = pty.openpty()
    asked: list[int] = []

    def refuses(fileno: int) -> bool:
        asked.append(fileno)
        return False

    try:
        with open(secondary, "w", closefd=False) as terminal:
            assert colour_wanted(terminal, shows_colour=lambda fileno: True) is True
            assert colour_wanted(terminal, shows_colour=refuses) is False
            assert asked == [secondary]
            out = Output(out=terminal, err=io.StringIO(), shows_colour=refuses)
            assert out.style("LISTEN", "green") == "LISTEN"
            assert colour_wanted(io.StringIO(), shows_colour=lambda fileno: True) is False  # not asked
            monkeypatch.setenv("FORCE_COLOR", "1")
            assert colour_wanted(terminal, shows_colour=refuses) is True  # forced: the user knows
    finally:
        os.close(primary)
        os.close(secondary)
