"""The tour's step as text (render/tour_view.py): layout, wrapping and colour hooks, from a step alone."""

from __future__ import annotations

from netdiag.core.sockets import SocketRow
from netdiag.core.tour import TourStep
from netdiag.render.socket_views import render_sockets
from netdiag.render.tour_view import WIDTH, step_lines

ROW = SocketRow("tcp", "ipv4", "127.0.0.1", 8000, None, None, "LISTEN", 42, "python3")


def test_a_step_reads_title_facts_look_and_try() -> None:
    step = TourStep(title="A server listens", facts=("An echo server listens on 127.0.0.1:8000.",),
                    look="LISTEN means it waits for connections.", try_it=("netdiag sockets --port 8000",))
    assert step_lines(1, step) == [
        "1. A server listens",
        "  An echo server listens on 127.0.0.1:8000.",
        "",
        "  Look: LISTEN means it waits for connections.",
        "  Try:  netdiag sockets --port 8000",
        "",
    ]


def test_rows_are_the_sockets_table_indented() -> None:
    step = TourStep(title="t", facts=(), look="l", rows=(ROW,), available=False)
    lines = step_lines(2, step)
    assert lines[0] == "2. t  (not available)"
    table = render_sockets([ROW], "table").splitlines()
    assert lines[1:2 + len(table)] == ["", *(f"    {line}" for line in table)]


def test_long_sentences_wrap_under_their_prefix() -> None:
    fact = " ".join(["word"] * 60)
    wrapped = step_lines(1, TourStep(title="t", facts=(fact,), look="l"))[1].split("\n")
    assert len(wrapped) > 1 and all(len(line) <= WIDTH for line in wrapped)
    assert wrapped[0].startswith("  word") and all(line.startswith("    word") for line in wrapped[1:])


def test_style_is_applied_to_title_look_and_try() -> None:
    step = TourStep(title="t", facts=(), look="l", try_it=("c",))
    lines = step_lines(3, step, style=lambda text, *styles: f"<{'+'.join(styles)}:{text}>")
    assert lines[0] == "<bold+cyan:3. t>"
    assert "<bold:Look: >l" in lines[-3]
    assert lines[-2] == "  <dim:Try:>  c"
