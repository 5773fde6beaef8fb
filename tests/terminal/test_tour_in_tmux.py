"""`netdiag tour` on a real terminal: lecture mode waits for Enter, colour appears only on a terminal
and never with NO_COLOR, and however the tour ends (Ctrl-C, SIGTERM, the terminal closing, even
SIGKILL) its server stops."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sys

import pytest
from helpers.waiting import wait_until
from terminal.tmux_session import Tmux

from netdiag.core.exit_status import ExitStatus

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="needs tmux (./dev test installs it as root)")

TOUR = [sys.executable, "-m", "netdiag", "tour", "--pause"]
PROMPT = r"Press Enter for the next step"


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


def _established_ends(port: int) -> int:
    """How many ESTABLISHED TCP sockets on this host have ``port`` at one end (both ends of a loopback
    connection count, so a live tour connection shows 2)."""
    import psutil

    return sum(1 for c in psutil.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED
               and port in (c.laddr.port, c.raddr.port if c.raddr else -1))


def test_paused_at_the_established_step_the_connection_is_still_open(tmux: Tmux) -> None:
    tmux.start("open", TOUR)
    port = _server_port(tmux.wait_for("open", PROMPT, timeout=30))
    tmux.key("open", "Enter")
    tmux.wait_for("open", rf"^2\. A client connects[\s\S]*{PROMPT}", timeout=30)
    tmux.key("open", "Enter")
    screen = tmux.wait_for("open", rf"^3\. Both ends are ESTABLISHED[\s\S]*{PROMPT}", timeout=30)
    assert "4. " not in screen.split("3. Both ends are ESTABLISHED", 1)[1]
    assert _established_ends(port) == 2  # what the lecturer points at is what the kernel holds now

    tmux.key("open", "C-c")
    assert tmux.wait_for_exit("open", timeout=15) == ExitStatus.INTERRUPTED


def test_no_prompt_after_the_last_step(tmux: Tmux) -> None:
    tmux.start("last", TOUR)
    tmux.wait_for("last", PROMPT, timeout=30)
    number = 1
    while "Where to go next" not in tmux.screen("last"):
        assert number < 12, "the tour should end within a dozen steps"
        number += 1
        tmux.key("last", "Enter")
        tmux.wait_for("last", rf"^{number}\. ", timeout=60)
    assert tmux.wait_for_exit("last", timeout=30) == ExitStatus.OK
    assert PROMPT not in tmux.screen("last").split("Where to go next", 1)[1]


@pytest.mark.parametrize("colour", [True, False], ids=["terminal", "NO_COLOR"])
def test_colour_on_a_terminal_unless_no_color(tmux: Tmux, colour: bool) -> None:
    tmux.start("colour", TOUR, colour=colour)
    tmux.wait_for("colour", PROMPT, timeout=30)
    has_escapes = "\x1b[" in tmux.screen("colour", escapes=True)
    assert has_escapes is colour
    tmux.key("colour", "C-c")
    assert tmux.wait_for_exit("colour", timeout=15) == ExitStatus.INTERRUPTED


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def _paused_tour(tmux: Tmux, name: str) -> int:
    """Start the tour in lecture mode, wait for its first pause, and return its server's port."""
    tmux.start(name, TOUR)
    port = _server_port(tmux.wait_for(name, PROMPT, timeout=30))
    assert not _refuses(port)
    return port


def test_sigterm_during_a_pause_stops_the_server_and_exits_130(tmux: Tmux) -> None:
    port = _paused_tour(tmux, "term")
    os.kill(tmux.pid("term"), signal.SIGTERM)
    assert tmux.wait_for_exit("term", timeout=15) == ExitStatus.INTERRUPTED
    assert "Traceback" not in tmux.screen("term")
    assert _refuses(port)


def test_closing_the_terminal_stops_the_server(tmux: Tmux) -> None:
    port = _paused_tour(tmux, "hangup")
    tmux.run("kill-session", "-t", "hangup")  # the pty closes: the tour gets SIGHUP
    wait_until(lambda: _refuses(port), timeout=15, what="the tour's server to stop after SIGHUP")


def test_even_sigkill_of_the_tour_stops_its_server(tmux: Tmux) -> None:
    port = _paused_tour(tmux, "killed")
    os.kill(tmux.pid("killed"), signal.SIGKILL)  # no finally runs: the kernel's parent-death signal
    wait_until(lambda: _refuses(port), timeout=15, what="the tour's server to stop after SIGKILL")
