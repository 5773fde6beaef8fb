"""The terminal tests' fixture: a private tmux server per test, killed at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from terminal.tmux_session import Tmux


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    terminal = Tmux()
    try:
        yield terminal
    finally:
        terminal.kill()
