"""``netdiag handshake``'s sentences and watch lines (render/handshake_view.py), from facts alone."""

from __future__ import annotations

import json

from netdiag.core.catalog import Cause
from netdiag.core.connection_tracker import Forgotten
from netdiag.core.handshake import Outcome
from netdiag.render.handshake_view import (
    captured_line,
    forgotten_line,
    outcome_failure,
    stopped_line,
)

REPORT = Forgotten(by_age=2, by_count=35, total=4000, pending=1000, max_age=180.0, max_pending=1000)


def test_the_watch_says_what_it_forgot_in_text_and_json() -> None:
    line = forgotten_line(REPORT, as_json=False)
    assert line.startswith(" " * 13 + "forgot 37 connection(s) whose handshake never completed (2 unanswered "
                           "for more than 180 s, 35 oldest beyond the 1,000 followed at once; 4,000 in all)")
    assert json.loads(forgotten_line(REPORT, as_json=True)) == {
        "event": "forgotten", "count": 37, "by_age": 2, "by_count": 35, "total": 4000, "pending": 1000,
        "max_age": 180.0, "max_pending": 1000}


def test_failed_outcomes_carry_their_cause() -> None:
    assert outcome_failure(Outcome.ACCEPTED, "127.0.0.1:80", 0.1) is None
    assert outcome_failure(Outcome.REFUSED, "127.0.0.1:80", 0.1) == (
        "Connection to 127.0.0.1:80 refused: the SYN was answered with RST,ACK.", Cause.NOTHING_LISTENING)
    filtered = outcome_failure(Outcome.FILTERED, "[::1]:80", 3.04)
    assert filtered == ("No answer from [::1]:80 in 3.0 s: the SYN was never answered (filtered).",
                        Cause.TIMEOUT)


def test_captured_and_stopped_lines() -> None:
    assert captured_line("lo", ("::1", 50000), "[::1]:80") == "Captured on lo: [::1]:50000 -> [::1]:80"
    assert stopped_line(3, 0) == "Stopped: 3 connection(s) seen to the end."
    assert stopped_line(0, 1234) == ("Stopped: 0 connection(s) seen to the end; 1,234 never-answered "
                                     "connection(s) forgotten.")
