"""The terminal's screen, redrawn in place: the one place netdiag writes the clear-screen escape.

A live view (``netdiag sockets --watch`` on a terminal) draws each frame over the last one; into a pipe
or a file frames follow each other instead, separated by a blank line, so nothing there holds escapes.
"""

from __future__ import annotations

CLEAR_SCREEN = "\x1b[H\x1b[2J"
"""Cursor home, then erase the whole screen (ANSI/VT100: every terminal netdiag supports draws it)."""


def screen_frame(frame: str, *, in_place: bool) -> str:
    """``frame`` as written to stdout: over the previous one on a terminal (``in_place``), else after it
    with a blank line between (the writer adds the frame's last newline)."""
    return CLEAR_SCREEN + frame if in_place else frame + "\n"
