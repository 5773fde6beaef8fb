"""A private tmux server for terminal tests: real pseudo-terminals, screens read back with capture-pane.

Each ``Tmux`` has its own server socket (``tmux -L``), so tests never touch a user's tmux; ``kill()`` ends
it. Waits poll the screen with a deadline (``helpers.waiting.wait_until``); nothing sleeps.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

from helpers.waiting import DeadlineExceeded, wait_until

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 100, 30
_counter = itertools.count()


class Tmux:
    """A private tmux server: one session per person, each running one command on a pseudo-terminal."""

    def __init__(self) -> None:
        self.socket = f"netdiag-test-{os.getpid()}-{next(_counter)}"

    def run(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True,
                                text=True, timeout=10, check=True)
        return result.stdout

    def start(self, name: str, argv: list[str], *, colour: bool = False) -> None:
        """Run ``argv`` in a new session ``name``; NO_COLOR is set unless ``colour``."""
        environment = {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
        unset = [] if colour else ["NO_COLOR=1"]
        command = shlex.join(["env", "-u", "NO_COLOR", "-u", "FORCE_COLOR",
                              *(f"{k}={v}" for k, v in environment.items()), *unset, *argv])
        # remain-on-exit before the session exists: a command that ends at once still leaves its status.
        self.run("start-server", ";", "set-option", "-g", "exit-empty", "off",
                 ";", "set-option", "-g", "remain-on-exit", "on",
                 ";", "new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT), command)

    def type(self, name: str, text: str) -> None:
        self.run("send-keys", "-t", name, "-l", text)
        self.run("send-keys", "-t", name, "Enter")

    def key(self, name: str, key: str) -> None:
        self.run("send-keys", "-t", name, key)

    def screen(self, name: str, *, escapes: bool = False) -> str:
        """The pane's text (``escapes``: with the colour escape sequences the program wrote)."""
        return self.run("capture-pane", "-p", "-J", *(["-e"] if escapes else []), "-t", name, "-S", "-200")

    def wait_for(self, name: str, pattern: str, timeout: float = 10.0) -> str:
        """The screen, once ``pattern`` (a regular expression) appears on it."""
        found = re.compile(pattern, re.MULTILINE)

        def screen_with_pattern() -> str:
            screen = self.screen(name)
            return screen if found.search(screen) else ""

        try:
            return wait_until(screen_with_pattern, timeout=timeout, what=f"{pattern!r} on {name}'s screen")
        except DeadlineExceeded as missing:
            raise DeadlineExceeded(f"{missing}; the screen shows:\n{self.screen(name)}") from None

    def exit_status(self, name: str) -> int | None:
        """The command's exit status once it has ended (the pane stays, dead), else None."""
        dead, status, pane_pid, server_pid = self.run(
            "display-message", "-p", "-t", name, "#{pane_dead}/#{pane_dead_status}/#{pane_pid}/#{pid}"
        ).strip().split("/")
        if dead == "1" and status:
            return int(status)
        if _is_zombie(int(pane_pid)):
            # tmux built with libutempter can miss a SIGCHLD (tmux/tmux#311, #4559): the command has
            # ended but the server never reaps it. Another SIGCHLD makes it look again.
            os.kill(int(server_pid), signal.SIGCHLD)
        return None

    def wait_for_exit(self, name: str, timeout: float = 10.0) -> int:
        """The exit status of the command in ``name`` once it has ended."""
        try:
            return wait_until(lambda: _some(self.exit_status(name)), timeout=timeout,
                              what=f"{name}'s command to exit") - 1
        except DeadlineExceeded as missing:
            raise DeadlineExceeded(f"{missing}; the screen shows:\n{self.screen(name)}") from None

    def pid(self, name: str) -> int:
        """The process id of the command running in ``name``."""
        return int(self.run("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def _is_zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return False


def _some(status: int | None) -> int:
    """``wait_until`` wants a truthy value: shift the status so that 0 counts as found."""
    return 0 if status is None else status + 1
