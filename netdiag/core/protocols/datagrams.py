"""What a UDP server answers one datagram, sans-I/O: the lab's task 3 (its servers converted to UDP).

UDP has no connection, so there is nothing to frame, buffer or close: every datagram is one whole
message and gets at most one answer, sent back to its source. ``echo`` returns the datagram itself;
``reply`` answers ``accepted``, or ``closed`` to ``close`` (any case, surrounding whitespace ignored, as
on TCP), and the server goes on serving everybody: ``close`` ends no connection because there is none
(the lab's converted server would stop altogether, which a shared server must not do). The answer ends
with a newline when the datagram did (``nc -u`` sends lines), with nothing otherwise (the lab's UDP
client sends bare ``sendto(msg.encode())`` and compares the answer with ``"closed"``). ``sink`` never
answers. ``greet`` and ``chat`` need connections and are not offered with ``--udp``.
"""

from __future__ import annotations

from netdiag.core.protocols.handlers import ACCEPTED, CLOSE_COMMAND, CLOSED
from netdiag.core.protocols.options import Mode

__all__ = ["datagram_answer"]


def datagram_answer(mode: Mode, data: bytes) -> bytes | None:
    """The datagram to send back for ``data`` in ``mode``, or None for no answer at all.

    An empty datagram is still a datagram: echo answers it with an empty one, reply with ``accepted``.
    """
    if mode is Mode.ECHO:
        return data
    if mode is Mode.REPLY:
        newline = b"\n" if data.endswith(b"\n") else b""
        return (CLOSED if data.strip().lower() == CLOSE_COMMAND else ACCEPTED) + newline
    return None
