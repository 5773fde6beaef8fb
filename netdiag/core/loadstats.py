"""What a load run measured: latency percentiles, throughput, and errors counted by kind.

Pure arithmetic on numbers the load generator collected; no sockets, no clocks. Kept apart from the
generator so the statistics can be tested exactly (a percentile is easy to get subtly wrong) and so the
JSON report has one definition shared by ``netdiag load``, the soak benchmark and the docs.

Percentiles use the *nearest-rank* method: p99 of 1,000 samples is the 990th smallest. It never
interpolates, so every reported figure is a latency that some request actually had.
"""

from __future__ import annotations

import errno as errno_codes
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from netdiag.core.catalog import Cause, Explanation, explanation_for


class ErrorKind(str, Enum):
    """Why one request (or one connection attempt) failed; JSON uses the values."""

    REFUSED = "refused"  # connect() got RST / ICMP port unreachable: nothing listening (or max clients)
    RESET = "reset"  # the established connection was reset by the peer
    TIMEOUT = "timeout"  # no (complete) answer within the per-request timeout; for UDP, a lost datagram
    MISMATCH = "mismatch"  # the echo came back, but not byte for byte what was sent
    CLOSED = "closed"  # the server closed the connection (EOF) before echoing everything
    UNREACHABLE = "unreachable"  # EHOSTUNREACH / ENETUNREACH
    PORT_UNREACHABLE = "port-unreachable"  # UDP: ICMP port unreachable came back, no socket bound there
    NO_ANSWER = "no-answer"  # UDP: nothing came back within the timeout (lost, dropped, or never answered)
    OTHER = "other"  # any other OSError (its errno name is kept in the message, not here)


TCP_KINDS = (ErrorKind.REFUSED, ErrorKind.RESET, ErrorKind.TIMEOUT, ErrorKind.MISMATCH, ErrorKind.CLOSED,
             ErrorKind.UNREACHABLE, ErrorKind.OTHER)
UDP_KINDS = (ErrorKind.PORT_UNREACHABLE, ErrorKind.NO_ANSWER, ErrorKind.MISMATCH, ErrorKind.UNREACHABLE,
             ErrorKind.OTHER)
"""The kinds a report lists (JSON ``errors``), per protocol: datagrams are never refused nor reset."""

_KIND_BY_ERRNO: dict[int, ErrorKind] = {
    errno_codes.ECONNREFUSED: ErrorKind.REFUSED,
    errno_codes.ECONNRESET: ErrorKind.RESET,
    errno_codes.EPIPE: ErrorKind.RESET,
    errno_codes.ECONNABORTED: ErrorKind.RESET,
    errno_codes.ETIMEDOUT: ErrorKind.TIMEOUT,
    errno_codes.EHOSTUNREACH: ErrorKind.UNREACHABLE,
    errno_codes.ENETUNREACH: ErrorKind.UNREACHABLE,
}


def error_kind_for_errno(code: int | None, *, udp: bool = False) -> ErrorKind:
    """The kind of a failed socket call from its errno (``None``: a timeout raised by our own clock).

    ``udp``: datagrams have no connection to refuse or reset; ECONNREFUSED on a UDP socket is an ICMP
    port-unreachable that came back, and a timeout is a datagram nobody answered.
    """
    if udp and code in (None, errno_codes.ETIMEDOUT):
        return ErrorKind.NO_ANSWER
    if udp and code == errno_codes.ECONNREFUSED:
        return ErrorKind.PORT_UNREACHABLE
    if code is None:
        return ErrorKind.TIMEOUT
    return _KIND_BY_ERRNO.get(code, ErrorKind.OTHER)


SHOWN_BYTES = 32
"""How much of an answer that is not the echo a report shows."""


def mismatch_detail(sent: bytes, got: bytes) -> str:
    """Why an answer is not the echo of ``sent``: a server that answers something else altogether (the
    lab's reply server: ``accepted``) is named with the first bytes of its answer; an echo that differs
    somewhere says where."""
    if got and len(got) < len(sent) and sent.startswith(got):
        return (f"the echo came back cut to {len(got)} of {len(sent)} bytes (the server reads at most "
                f"{len(got)} bytes of a datagram, or a smaller --size fits it)")
    common = min(len(sent), len(got))
    at = next((i for i in range(common) if sent[i] != got[i]), common)
    if at == 0 or (len(got) != len(sent) and not sent.startswith(got)):
        shown = got[:SHOWN_BYTES].decode("utf-8", errors="backslashreplace")
        shown = shown.encode("unicode_escape").decode("ascii").replace("\\\\", "\\")
        more = "..." if len(got) > SHOWN_BYTES else ""
        return (f"the server answered '{shown}{more}' ({len(got)} bytes) to a {len(sent)}-byte request: not "
                "an echo of it, so this is not an echo server (netdiag listen --mode echo is one)")
    return f"echo differs from what was sent at byte {at}: sent {sent[at:at + 8]!r}, got {got[at:at + 8]!r}"


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in 0..1); 0.0 for no values."""
    if not sorted_values:
        return 0.0
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"percentile fraction {fraction} is outside 0..1")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class LatencySummary:
    """Latency of the successful requests, in seconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, samples: Iterable[float]) -> LatencySummary:
        ordered = sorted(samples)
        if not ordered:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 0.50),
            p90=percentile(ordered, 0.90),
            p99=percentile(ordered, 0.99),
            max=ordered[-1],
            # fsum, then clamped: a float mean may otherwise land one ulp outside [min, max]
            mean=min(max(math.fsum(ordered) / len(ordered), ordered[0]), ordered[-1]),
        )

    def as_ms(self) -> dict[str, float | None]:
        """The summary in milliseconds, rounded to microseconds (the JSON ``latency_ms`` object); every
        figure None when no request succeeded (no latency was measured, so none is 0)."""
        if not self.count:
            return dict.fromkeys(("p50", "p90", "p99", "max", "mean"))
        return {
            "p50": _ms(self.p50),
            "p90": _ms(self.p90),
            "p99": _ms(self.p99),
            "max": _ms(self.max),
            "mean": _ms(self.mean),
        }


@dataclass(frozen=True)
class LoadReport:
    """One finished run: what was asked, what happened, and the figures derived from it."""

    target: str
    proto: str
    clients: int
    size: int
    rate: float | None
    elapsed: float
    requests: int
    bytes_sent: int
    bytes_received: int
    connections: int
    latency: LatencySummary
    errors: Mapping[ErrorKind, int] = field(default_factory=dict)
    first_error: str | None = None
    interrupted: bool = False  # stopped early by Ctrl-C: the figures cover ``elapsed``, not the duration
    served_clients: int | None = None  # clients that had at least one request echoed

    @property
    def one_client_at_a_time(self) -> bool:
        """One client served and every other one failed with nothing but waiting, refusals or resets:
        the mark of a server that accepts one connection and serves it to the end (the lab's first
        echo server), not of a broken network."""
        waiting = {ErrorKind.REFUSED, ErrorKind.RESET, ErrorKind.TIMEOUT, ErrorKind.CLOSED}
        return (self.clients > 1 and self.served_clients == 1 and self.error_count > 0
                and all(kind in waiting for kind, count in self.errors.items() if count))

    def one_client_sentence(self) -> str:
        """What a one-client server did to the other clients, in the words of what was seen."""
        others = self.clients - 1
        advice = "Load it with --clients 1, or give it a loop around accept() and a thread per client."
        if self.errors.get(ErrorKind.REFUSED, 0) or self.errors.get(ErrorKind.RESET, 0):
            return (f"{self.target} accepted one connection, then refused: it serves one client at a time "
                    f"(1 of {self.clients} clients was served; the other {others} waited in its accept "
                    f"queue and were refused, or reset when it closed). {advice}")
        return (f"{self.target} served one connection while the other {others} client(s) waited unanswered "
                f"in its accept queue: it serves one client at a time. {advice}")

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        """Echoed payload per second in both directions, in megabytes (10**6 bytes)."""
        moved = self.bytes_sent + self.bytes_received
        return moved / self.elapsed / 1e6 if self.elapsed > 0 else 0.0


def merge_error_counts(counts: Iterable[Mapping[ErrorKind, int]]) -> dict[ErrorKind, int]:
    """Sum per-client error counts into one mapping (kinds that never happened are left out)."""
    total: dict[ErrorKind, int] = {}
    for one in counts:
        for kind, n in one.items():
            if n:
                total[kind] = total.get(kind, 0) + n
    return total


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def udp_load_explanation(cause: Cause, port: int) -> Explanation:
    """Why a UDP load could not start, in datagram words (no connection was refused or reset)."""
    echo = f"netdiag listen {port} --udp --mode echo"
    if cause == Cause.NOTHING_LISTENING:
        return Explanation(cause, "UDP port unreachable",
                           "No UDP socket is bound to that port: the kernel answers a datagram sent there "
                           "with ICMP port unreachable (on this host the socket table says so, unsent).",
                           ("The server is not running, or listens on TCP only, or on another port.",
                            "The server is bound to another address (127.0.0.1 only, or IPv6 only)."),
                           (f"Start a UDP echo server first: {echo}",
                            f"Check what is bound: netdiag sockets --port {port}"))
    if cause == Cause.PROTOCOL_MISMATCH:
        return Explanation(cause, "No echo from a UDP server",
                           "The datagram reached a UDP socket bound to that port, and the server sent "
                           "nothing back. UDP needs no answer: a receive-only server (a sink) is silent.",
                           ("The server only receives (a sink, a logger), or answers only some messages.",),
                           (f"Load a server that echoes each datagram: {echo}",
                            f"See what it does with one: netdiag connect 127.0.0.1:{port} --udp -m hello"))
    if cause == Cause.TIMEOUT:
        return Explanation(cause, "No answer over UDP",
                           "Nothing came back. Over UDP a server that does not answer, a firewall that drops "
                           "datagrams and an absent host all look the same from the client.",
                           ("The server does not echo (or does not run), or a firewall drops datagrams.",),
                           (f"Ask step by step: netdiag explain HOST:{port} --udp", f"On the server: {echo}"))
    return explanation_for(cause)
