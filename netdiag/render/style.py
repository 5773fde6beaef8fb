"""How the pure renderers colour text without knowing the terminal: they take a ``Style``.

Kept apart from ``output`` (which decides colour for a real stream) so every renderer can take a style
without importing the output machinery, and ``output`` can use the renderers without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable

Style = Callable[..., str]
"""``style(text, *styles)``: colours text (``Output.style`` on a terminal), or ``no_style`` leaves it be;
the pure renderers take one, so pipes and tests get plain text from the same code."""


def no_style(text: str, *styles: str) -> str:
    """The ``Style`` of plain text (no terminal, or no colour)."""
    return text
