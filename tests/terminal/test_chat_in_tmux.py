"""Two people in a chat room, on real terminals: `netdiag connect` driven in tmux against `netdiag listen
--mode chat`, checking what each screen shows (the server's own screen too, as on a projector).

tmux gives each client a real pseudo-terminal (so `connect` runs interactively, as a person would use it),
and ``capture-pane`` reads the screen back. Each test gets its own tmux server (``tmux -L``), killed at
the end. Every wait polls the screen with a deadline; nothing sleeps.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator

import pytest
from helpers.servers import ServerHandle, running_server
from helpers.waiting import wait_until
from terminal.tmux_session import Tmux

from netdiag.core.exit_status import ExitStatus

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="needs tmux (./dev test installs it as root)")


@pytest.fixture
def chat_server() -> Iterator[ServerHandle]:
    with running_server("--mode", "chat") as server:
        yield server


def _connect(tmux: Tmux, name: str, server: ServerHandle | int) -> None:
    """Start ``netdiag connect`` in session ``name`` and wait for the room's welcome."""
    address = f"127.0.0.1:{server}" if isinstance(server, int) else f"{server.host}:{server.port}"
    tmux.start(name, [sys.executable, "-m", "netdiag", "connect", address])
    tmux.wait_for(name, r"^\* welcome user\d+")


def test_two_people_chat_and_each_screen_shows_the_other(tmux: Tmux, chat_server: ServerHandle) -> None:
    _connect(tmux, "alice", chat_server)
    _connect(tmux, "bob", chat_server)
    tmux.wait_for("alice", r"^\* user\d+ joined from 127\.0\.0\.1:\d+")  # bob arrived after alice

    tmux.type("alice", "/nick alice")
    tmux.wait_for("alice", r"^\* you are now alice$")
    tmux.wait_for("bob", r"^\* user\d+ is now alice$")
    tmux.type("bob", "/nick bob")
    tmux.wait_for("alice", r"^\* user\d+ is now bob$")

    tmux.type("alice", "hello from alice")
    tmux.wait_for("bob", r"^alice: hello from alice$")
    tmux.type("bob", "hi alice, bob here")
    alice_screen = tmux.wait_for("alice", r"^bob: hi alice, bob here$")
    assert not re.search(r"^alice: hello from alice$", alice_screen, re.MULTILINE), \
        "the sender must not get her own line back"

    tmux.type("bob", "/who")
    who = tmux.wait_for("bob", r"^\* 2 here: .*")
    assert re.search(r"^\* 2 here: .*\balice\b", who, re.MULTILINE) and "bob" in who

    tmux.type("bob", "/quit")
    tmux.wait_for("alice", r"^\* bob (left|quit).*")
    assert tmux.wait_for_exit("bob") == ExitStatus.OK
    assert "Traceback" not in tmux.screen("bob")

    chat_server.wait_for_event("close", reason="quit")


def test_ctrl_d_ends_a_session_cleanly_and_ctrl_c_interrupts_with_130(
    tmux: Tmux, chat_server: ServerHandle
) -> None:
    _connect(tmux, "carol", chat_server)
    _connect(tmux, "dave", chat_server)
    tmux.key("carol", "C-d")  # end of input: connect closes its side and exits 0
    assert tmux.wait_for_exit("carol") == ExitStatus.OK
    tmux.wait_for("dave", r"^\* user\d+ left")

    tmux.key("dave", "C-c")
    assert tmux.wait_for_exit("dave") == ExitStatus.INTERRUPTED
    assert "Traceback" not in tmux.screen("dave")
    wait_until(lambda: len(chat_server.of("close")) == 2, what="both sessions closed on the server")


def test_the_servers_own_screen_shows_each_client_arrive_speak_and_leave(tmux: Tmux) -> None:
    """The instructor's view: `netdiag listen --mode chat` on a terminal, with its human log."""
    tmux.start("room", [sys.executable, "-m", "netdiag", "listen", "127.0.0.1:0", "--mode", "chat"])
    listening = re.search(r"listening on TCP 127\.0\.0\.1:(\d+)",
                          tmux.wait_for("room", r"listening on TCP 127\.0\.0\.1:\d+", timeout=15))
    assert listening
    port = int(listening.group(1))
    _connect(tmux, "erin", port)
    _connect(tmux, "frank", port)
    tmux.type("erin", "hello frank")
    tmux.wait_for("frank", r"^user\d+: hello frank$")

    room = tmux.wait_for("room", r"127\.0\.0\.1:\d+\s+received \d+ bytes: hello frank")
    assert len(re.findall(r"127\.0\.0\.1:\d+\s+connected$", room, re.MULTILINE)) == 2, room
    tmux.type("frank", "/quit")
    tmux.wait_for("room", r"127\.0\.0\.1:\d+\s+closed by server \(quit\)")
    assert tmux.wait_for_exit("frank") == ExitStatus.OK

    tmux.key("room", "C-c")  # a server is meant to be stopped with Ctrl-C: clean, exit 0
    assert tmux.wait_for_exit("room", timeout=15) == ExitStatus.OK
    assert "Traceback" not in tmux.screen("room")
    tmux.wait_for("erin", r"^Connection closed by the server\.$")
    assert tmux.wait_for_exit("erin") == ExitStatus.OK
