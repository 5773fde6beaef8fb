"""Recognising a server that loops after our end of input: the same short reply, over and over. Pure.

The lab's 1.10 server does not handle ``recv()`` returning ``b""``: after the client's FIN it answers the
empty message ``accepted`` again and again, as fast as it can. ``netdiag connect`` feeds what arrives after
its half-close to a ``RepeatWatch`` and stops once it shows that pattern, instead of printing it forever.
"""

from __future__ import annotations

REPEAT_MAX_UNIT = 256
"""Longest reply recognised as the one a looping server repeats after our end of input."""
REPEATS = 3
"""Repetitions of one reply after our end of input (and more bytes than we ever sent, which no echo can
return) that identify a server looping on ``recv()`` returning ``b""``."""


class RepeatWatch:
    """Whether what arrives after our end of input is one short reply over and over, in bounded memory.

    The first bytes are searched for their shortest period (at most ``REPEAT_MAX_UNIT`` bytes; none in the
    first ``REPEATS * REPEAT_MAX_UNIT`` bytes ends the watch); from then on each chunk is only compared
    with the period's continuation. Any other byte ends the watch: a real stream (a download after the
    request, an echo finishing) goes on as before. A one-byte "reply" (a file of zeros) never counts.
    """

    def __init__(self, sent: int) -> None:
        self.sent = sent
        self.head = bytearray()
        self.unit = b""
        self.total = 0
        self.broken = False

    @property
    def endless(self) -> bool:
        return (not self.broken and len(self.unit) >= 2 and self.total >= REPEATS * len(self.unit)
                and self.total > self.sent)

    def feed(self, data: bytes) -> bool:
        """Take the next bytes after our end of input; True once they show a looping server."""
        if self.broken or not data:
            return self.endless
        if not self.unit:
            self.head += data
            self.total += len(data)
            most = min(REPEAT_MAX_UNIT, len(self.head) // REPEATS)
            period = next((p for p in range(1, most + 1) if self.head[p:] == self.head[:-p]), 0)
            if period:
                self.unit = bytes(self.head[:period])
            elif len(self.head) >= REPEATS * REPEAT_MAX_UNIT:
                self.broken = True
            if period or self.broken:
                self.head = bytearray()
            return self.endless
        phase = self.total % len(self.unit)
        expected = (self.unit[phase:] + self.unit * (len(data) // len(self.unit) + 1))[:len(data)]
        self.broken = data != expected
        self.total += len(data)
        return self.endless
