"""The one-line explanation under each ``--watch`` event: one source for the terminal and the lecture page.

``netdiag handshake --watch`` prints a connection in instalments (``netdiag.core.connection_tracker``);
under an instalment it explains what just happened in one line. The terminal and the browser view
(``--web``) must say the same thing, so the words live here and both callers ask for them.
Pure: no I/O.
"""

from __future__ import annotations

from enum import Enum

from netdiag.core.connection_tracker import WatchEvent, WatchEventKind
from netdiag.core.handshake import Outcome, format_duration


class NoteTone(str, Enum):
    """How a note should stand out: a warning (no answer yet), a failure (refused, reset), or plain."""

    PLAIN = "plain"
    WARNING = "warning"
    FAILURE = "failure"


def event_notes(event: WatchEvent) -> list[tuple[NoteTone, str]]:
    """The explanation lines under ``event``, in the order the terminal prints them, each with its tone."""
    analysis = event.analysis
    notes: list[tuple[NoteTone, str]] = []
    if event.kind is WatchEventKind.UNANSWERED:
        tries = len(analysis.syn_elapsed)
        notes.append((NoteTone.WARNING,
                      f"no answer yet: SYN sent {tries} times (a firewall drops it, or no host is there)"))
    if event.kind is WatchEventKind.OPENED and analysis.handshake_rtt is not None:
        rtt = format_duration(analysis.handshake_rtt)
        if analysis.outcome is Outcome.REFUSED:
            notes.append((NoteTone.FAILURE,
                          f"refused: the SYN was answered with RST,ACK after {rtt} (nothing listens)"))
        else:
            notes.append((NoteTone.PLAIN, f"handshake done, RTT {rtt}"))
    if event.kind is WatchEventKind.ENDED:
        failed = analysis.outcome in (Outcome.REFUSED, Outcome.RESET, Outcome.FILTERED)
        notes.append((NoteTone.FAILURE if failed else NoteTone.PLAIN, f"Reading: {analysis.reading}"))
    return notes
