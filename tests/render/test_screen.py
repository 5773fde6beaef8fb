"""Frames drawn in place on a terminal, appended elsewhere (render/screen.py)."""

from __future__ import annotations

from netdiag.render.screen import CLEAR_SCREEN, screen_frame


def test_a_terminal_frame_clears_the_screen_first() -> None:
    assert screen_frame("frame", in_place=True) == "\x1b[H\x1b[2Jframe" == CLEAR_SCREEN + "frame"


def test_a_piped_frame_holds_no_escape_and_ends_with_a_blank_line() -> None:
    assert screen_frame("frame", in_place=False) == "frame\n"
