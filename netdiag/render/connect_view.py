"""``netdiag connect`` as text and as data: each session event worded or made a JSON record, the
attempts and timings of ``-v``, and the sentences that make a session a failure (exit 1).

Pure: events (``core.client_events``) and facts in, lines and records out; the CLI decides where each
line goes (``Line.stream``) and stamps each record with the time. The connection and its attempts are
read through the small protocols below, so this module never imports the client adapter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from netdiag.core.catalog import Cause
from netdiag.core.client_events import (
    ClientEvent,
    HalfClosed,
    LineEnding,
    NoReply,
    PeerClosed,
    PeerKeepsSending,
    PeerKeptOpen,
    Received,
    Sent,
    TimeLimit,
    Unsent,
)
from netdiag.core.failures import NetworkFailure
from netdiag.core.protocols.text import neutralise, printable


class AttemptFacts(Protocol):
    """One address tried (``adapters.client.Attempt``)."""

    @property
    def address(self) -> str: ...
    @property
    def cause(self) -> Cause: ...
    @property
    def seconds(self) -> float: ...
    @property
    def detail(self) -> str: ...
    @property
    def outcome(self) -> str: ...


class TimingFacts(Protocol):
    """How long each phase took, in seconds (``adapters.client.Timings``); None: it did not happen."""

    @property
    def resolve(self) -> float | None: ...
    @property
    def connect(self) -> float | None: ...
    @property
    def first_reply(self) -> float | None: ...


class ConnectionFacts(Protocol):
    """What the view reads of an open connection (``adapters.client.Connection``)."""

    @property
    def udp(self) -> bool: ...
    @property
    def target(self) -> str: ...
    @property
    def peer(self) -> str: ...
    @property
    def local(self) -> str: ...
    @property
    def attempts(self) -> Sequence[AttemptFacts]: ...
    @property
    def timings(self) -> TimingFacts: ...


@dataclass(frozen=True)
class Line:
    """One piece of text for the person: ``data`` (stdout), ``info`` or ``warn`` (stderr); ``end`` is
    ``""`` for a reply cut mid-line that the next piece continues."""

    stream: Literal["data", "info", "warn"]
    text: str
    end: str = "\n"


# --- text -------------------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f} ms"


def shown(message: bytes) -> str:
    """A message as quoted in a sentence: its Python repr, invalid UTF-8 as ``\\xNN``."""
    return repr(message.decode("utf-8", errors="backslashreplace"))


def reply_text(data: bytes) -> str:
    """A reply as printable text: UTF-8 (invalid bytes as ``\\xNN``), unshown characters escaped.

    Escaping (``text.neutralise``) keeps a hostile or binary server from driving the terminal or
    reordering the line (no escape sequence, control, bidi or invisible character reaches it); CR-LF
    line ends become plain newlines; one trailing newline is dropped (printing adds one).
    """
    text = data.decode("utf-8", errors="backslashreplace").replace("\r\n", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return neutralise(text, keep="\n\t")


def attempt_lines(attempts: Sequence[AttemptFacts]) -> list[str]:
    """``-v``: one indented line per address tried."""
    return [f"  {attempt.outcome} on {attempt.address} in {ms(attempt.seconds)}"
            + (f" ({attempt.detail})" if attempt.detail else "") for attempt in attempts]


def tried_line(host: str, attempts: Sequence[AttemptFacts]) -> str:
    """``-v`` after a failed connect, above ``attempt_lines``."""
    return f"{len(attempts)} address(es) tried for {host}:"


def connected_lines(connection: ConnectionFacts, *, verbose: bool, interactive: bool,
                    end_keys: str | None = None) -> list[str]:
    """What is said on stderr once connected; ``end_keys`` (the keys that end the input, given only
    when a person types on a terminal) adds how to end an interactive session."""
    lines: list[str] = []
    if verbose:
        addresses = ", ".join(a.address for a in connection.attempts)
        lines.append(f"resolved {connection.target} in {ms(connection.timings.resolve)} "
                     f"({len(connection.attempts)} address(es) tried: {addresses})")
        lines.extend(attempt_lines(connection.attempts))
    if connection.udp:
        if interactive or verbose:
            lines.append(f"UDP socket aimed at {connection.peer} from {connection.local} (UDP has no "
                         "handshake: a closed port shows only as a missing reply or an ICMP error).")
    elif interactive or verbose:
        hint = f" Type lines to send; {end_keys} ends." if interactive and end_keys is not None else ""
        lines.append(f"Connected to {connection.peer} from {connection.local}." + hint)
    return lines


def timings_line(connection: ConnectionFacts) -> str:
    """``-v`` at the end: name resolution, connect and first reply."""
    timings = connection.timings
    first = ("no reply received" if timings.first_reply is None
             else f"first reply {ms(timings.first_reply)}")
    what = "socket set up" if connection.udp else "TCP connect"
    return f"timings: name resolution {ms(timings.resolve)}, {what} {ms(timings.connect)}, {first}"


def event_line(event: ClientEvent, *, verbose: bool) -> Line | None:
    """The text of one session event, or None when it shows nothing (at this verbosity)."""
    if isinstance(event, Received):
        # a piece cut mid-line continues on the same line; one cut after a newline ends its line
        open_line = event.partial and not event.data.endswith(b"\n")
        return Line("data", reply_text(event.data), "" if open_line else "\n")
    if isinstance(event, Sent):
        return Line("info", f"> sent {len(event.data)} byte(s)") if verbose else None
    if isinstance(event, NoReply):
        return Line("warn", f"no reply to {shown(event.message)} within {event.timeout:g} s")
    if isinstance(event, PeerClosed):
        return Line("info", "Connection closed by the server.")
    if isinstance(event, HalfClosed):
        return (Line("info", "end of input: sent FIN (shutdown SHUT_WR), waiting for the server to finish")
                if verbose else None)
    if isinstance(event, PeerKeptOpen):
        return Line("info", f"The server kept the connection open {event.timeout:g} s after our end of "
                    "input; closing it.")
    if isinstance(event, PeerKeepsSending):
        return Line("warn", keeps_sending_sentence(event))
    if isinstance(event, LineEnding):
        if not verbose:
            return None
        return Line("info", "the server waited for the end of the line: lines are sent with their newline"
                    if event.lines else "the server answered a line sent without its newline: lines are "
                    "sent without it, as the lab's clients send (--newline lf to change)")
    return None  # TimeLimit, Unsent: said once the session is over (``Tally.problems``)


def keeps_sending_sentence(event: PeerKeepsSending) -> str:
    """The lab's 1.10 server after our end of input, named: what it repeats and the fix in the server."""
    return (f"the server keeps sending after your end of input: it does not handle `recv()` returning "
            f"`b''`. It sent {shown(event.unit)} over and over ({event.size:,} bytes in "
            f"{event.seconds:.2f} s) instead of closing; netdiag stopped there. Fix the server: end its "
            "loop when recv() returns b'' (data = conn.recv(1024); if not data: break).")


def received_silently_sentence(datagrams: int, receiver: str) -> str:
    """UDP: a socket of this host is bound to the port, so the datagrams arrived and got no answer."""
    return (f"The server received the {datagrams} datagram(s) and sent nothing back: {receiver}. "
            "UDP needs no answer, so this is what a receive-only server (a sink) looks like.")


def no_reply_sentence(unanswered: Sequence[NoReply], connection: ConnectionFacts) -> str:
    count = len(unanswered)
    if connection.udp:
        return (f"No reply to {count} datagram(s) from {connection.peer}. UDP has no handshake, so "
                "silence is all a client sees when nothing answers: the server may not be running "
                "(and no ICMP error came back), may not reply, or a firewall drops the datagrams.")
    return (f"No reply to {count} message(s) from {connection.peer}. The connection is open, so the "
            "server got them but did not answer: it may wait for a newline (try --newline lf), or it "
            "never answers (a sink: use --no-wait).")


@dataclass
class Tally:
    """What a session's events add up to: the replies missing, the messages never sent, the time limit
    reached, the bytes received; ``problems`` words what makes the session a failure (exit 1)."""

    unanswered: list[NoReply] = field(default_factory=list)
    unsent: list[Unsent] = field(default_factory=list)
    stopped: list[TimeLimit] = field(default_factory=list)
    received: int = 0

    def add(self, event: ClientEvent) -> None:
        if isinstance(event, Received):
            self.received += len(event.data)
        elif isinstance(event, NoReply):
            self.unanswered.append(event)
        elif isinstance(event, Unsent):
            self.unsent.append(event)
        elif isinstance(event, TimeLimit):
            self.stopped.append(event)

    def problems(self, connection: ConnectionFacts) -> list[str]:
        """The sentences that make the session a failure: replies missing, messages never sent, the
        time limit reached."""
        problems = [f"Stopped after --max-time {event.max_time:g} s, the session not finished: "
                    f"{self.received:,} byte(s) received from {connection.peer} by then. The server may "
                    "still be sending (a trickle or an endless stream keeps the idle --timeout from ever "
                    "expiring); raise --max-time if it needs longer." for event in self.stopped]
        problems += [no_reply_sentence(self.unanswered, connection)] if self.unanswered else []
        for event in self.unsent:
            problems.append(f"The server closed the connection before {len(event.messages)} message(s) "
                            f"could be sent ({', '.join(shown(m) for m in event.messages)}).")
        return problems


# --- records (--format json) --------------------------------------------------------------------------


def stamped_json(record: dict[str, object], now: float) -> str:
    """One JSON line of ``--format json``: the record, then ``time`` (Unix seconds, to the microsecond)."""
    return json.dumps({**record, "time": round(now, 6)})


def ms_value(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def event_record(event: ClientEvent) -> dict[str, object]:
    if isinstance(event, Received):
        record: dict[str, object] = {"event": "reply", "bytes": len(event.data),
                                     "text": printable(event.data)}
        return {**record, "partial": True} if event.partial else record
    if isinstance(event, TimeLimit):
        return {"event": "time-limit", "max_time": event.max_time}
    if isinstance(event, Sent):
        return {"event": "sent", "bytes": len(event.data), "text": printable(event.data)}
    if isinstance(event, NoReply):
        return {"event": "no-reply", "bytes": len(event.message), "text": printable(event.message),
                "timeout": event.timeout}
    if isinstance(event, PeerClosed):
        return {"event": "close", "by": "server"}
    if isinstance(event, PeerKeptOpen):
        return {"event": "kept-open", "timeout": event.timeout}
    if isinstance(event, Unsent):
        return {"event": "unsent", "messages": [printable(m) for m in event.messages]}
    if isinstance(event, PeerKeepsSending):
        return {"event": "keeps-sending", "text": printable(event.unit), "bytes": event.size,
                "seconds": round(event.seconds, 6)}
    if isinstance(event, LineEnding):
        return {"event": "line-ending", "newline": event.lines}
    return {"event": "half-close"}


def attempt_records(attempts: Sequence[AttemptFacts]) -> list[dict[str, object]]:
    return [{"address": a.address, "outcome": a.outcome, "cause": a.cause.value,
             "ms": round(a.seconds * 1000, 3)} for a in attempts]


def connected_record(connection: ConnectionFacts) -> dict[str, object]:
    return {"event": "connected", "proto": "udp" if connection.udp else "tcp", "target": connection.target,
            "peer": connection.peer, "local": connection.local,
            "attempts": attempt_records(connection.attempts),
            "resolve_ms": ms_value(connection.timings.resolve),
            "connect_ms": ms_value(connection.timings.connect)}


def received_silently_record(datagrams: int, sentence: str) -> dict[str, object]:
    return {"event": "received-silently", "datagrams": datagrams, "detail": sentence}


def done_record(connection: ConnectionFacts, problems: list[str]) -> dict[str, object]:
    return {"event": "done", "ok": not problems, "problems": problems,
            "first_reply_ms": ms_value(connection.timings.first_reply)}


def error_record(failure: NetworkFailure, attempts: Sequence[AttemptFacts]) -> dict[str, object]:
    return {"event": "error", "cause": failure.cause.value if failure.cause else "unknown",
            "message": failure.message, "attempts": attempt_records(attempts)}
