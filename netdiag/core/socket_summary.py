"""``netdiag sockets --summary``: how many sockets per protocol and state, like ``ss -s``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from netdiag.core.sockets import SocketRow, SocketState

ALL_STATES = "*"
SUMMARY_FIELDS: tuple[str, ...] = ("proto", "state", "ipv4", "ipv6", "unix", "total")
_STATE_ORDER = {state.value: n for n, state in enumerate(SocketState)}
_PROTO_ORDER = {"tcp": 0, "udp": 1, "unix": 2}


@dataclass(frozen=True)
class SummaryLine:
    """Sockets of one protocol in one state (``state == "*"``: every state of that protocol)."""

    proto: str
    state: str
    ipv4: int
    ipv6: int
    unix: int

    @property
    def total(self) -> int:
        return self.ipv4 + self.ipv6 + self.unix


def summarize(rows: Iterable[SocketRow]) -> list[SummaryLine]:
    """Per protocol (tcp, udp, unix): one line for all its states, then one per state it has."""
    counts: Counter[tuple[str, str, str]] = Counter((r.proto, r.state, r.family) for r in rows)
    lines: list[SummaryLine] = []
    for proto in sorted({p for p, _, _ in counts}, key=lambda p: (_PROTO_ORDER.get(p, 9), p)):
        states = sorted({s for p, s, _ in counts if p == proto}, key=lambda s: (_STATE_ORDER.get(s, 99), s))
        per_state = [_line(counts, proto, state) for state in states]
        lines.append(SummaryLine(proto, ALL_STATES, sum(x.ipv4 for x in per_state),
                                 sum(x.ipv6 for x in per_state), sum(x.unix for x in per_state)))
        lines.extend(per_state)
    return lines


def _line(counts: Counter[tuple[str, str, str]], proto: str, state: str) -> SummaryLine:
    return SummaryLine(proto, state, counts[(proto, state, "ipv4")], counts[(proto, state, "ipv6")],
                       counts[(proto, state, "unix")])
