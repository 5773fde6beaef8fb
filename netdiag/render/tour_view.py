"""``netdiag tour``'s steps as text: title, facts, the socket rows as ``netdiag sockets`` shows them, the
handshake as ``netdiag handshake`` draws it, what to look at, and the commands to try.

Pure: a step (``core.tour.TourStep``) in, lines out; colour comes in as a ``style`` function
(``Output.style``), so a pipe or a test gets plain text.
"""

from __future__ import annotations

from textwrap import wrap

from netdiag.core.tour import TourStep
from netdiag.render.style import Style, no_style

WIDTH = 96
"""Columns the step's sentences are wrapped to."""


def step_lines(number: int, step: TourStep, *, style: Style = no_style) -> list[str]:
    """The lines of step ``number`` (each may hold a wrapped sentence's newlines), ending with a blank."""
    title = f"{number}. {step.title}" + ("" if step.available else "  (not available)")
    lines = [style(title, "bold", "cyan")]
    lines.extend(indented(fact, "  ") for fact in step.facts)
    if step.rows:
        from netdiag.render.socket_views import render_sockets

        lines.append("")
        lines.extend(f"    {line}" for line in render_sockets(list(step.rows), "table").splitlines())
    if step.handshake is not None:
        from netdiag.render.sequence import render_diagram

        lines.append("")
        lines.extend(f"    {line}" for line in render_diagram(step.handshake,
                                                            paint=lambda text, tone: style(text, tone)))
    lines.append("")
    lines.append(indented(style("Look: ", "bold") + step.look, "  "))
    lines.extend(f"  {style('Try:', 'dim')}  {command}" for command in step.try_it)
    lines.append("")
    return lines


def indented(text: str, prefix: str) -> str:
    """``text`` wrapped to ``WIDTH`` columns, the first line after ``prefix``, the others two further in."""
    return "\n".join(wrap(text, WIDTH, initial_indent=prefix, subsequent_indent=prefix + "  "))
