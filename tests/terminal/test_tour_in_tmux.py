"""`netdiag tour` on a real terminal: lecture mode waits for Enter, colour appears only on a terminal
and never with NO_COLOR, and Ctrl-C during a pause ends it with 130 and stops its server."""

from __future__ import annotations

import re
import shutil
import socket
import sys
from collections.abc import Iterator

import pytest
from terminal.tmux_session import Tmux

from netdiag.core.exit_status import ExitStatus

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="needs tmux (./dev test installs it as root)")

TOUR = [sys.executable, "-m", "netdiag", "tour", "--pause"]
PROMPT = r"Press Enter for the next step"


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    terminal = Tmux()
    try:
        yield terminal
    finally:
        terminal.kill()


def _server_port(screen: str) -> int:
    match = re.search(r"An echo server listens on 127\.0\.0\.1:(\d+)", screen)
    assert match, screen
    return int(match.group(1))


def test_pause_waits_for_enter_between_steps_and_ctrl_c_stops_the_tour(tmux: Tmux) -> None:
    tmux.start("lecture", TOUR)
    screen = tmux.wait_for("lecture", PROMPT, timeout=30)
    assert "1. A server listens" in screen
    assert "2. A client connects" not in screen  # waiting for the lecturer, not running ahead
    port = _server_port(screen)

    tmux.key("lecture", "Enter")
    screen = tmux.wait_for("lecture", r"^2\. A client connects and exchanges a message", timeout=30)
    assert "3. Both ends are ESTABLISHED" not in screen

    tmux.key("lecture", "C-c")
    assert tmux.wait_for_exit("lecture", timeout=15) == ExitStatus.INTERRUPTED
    assert "Traceback" not in tmux.screen("lecture")
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # the tour's server was stopped on the way out


@pytest.mark.parametrize("colour", [True, False], ids=["terminal", "NO_COLOR"])
def test_colour_on_a_terminal_unless_no_color(tmux: Tmux, colour: bool) -> None:
    tmux.start("colour", TOUR, colour=colour)
    tmux.wait_for("colour", PROMPT, timeout=30)
    has_escapes = "\x1b[" in tmux.screen("colour", escapes=True)
    assert has_escapes is colour
    tmux.key("colour", "C-c")
    assert tmux.wait_for_exit("colour", timeout=15) == ExitStatus.INTERRUPTED
