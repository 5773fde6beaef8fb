"""`netdiag connect HOST:PORT`: the lab's client, done properly (interactive, scripted, TCP or UDP)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.cli.common import ReportFormat, ReportFormatOption, examples, output
from netdiag.cli.plain_coercion import PlainCoercionCommand
from netdiag.core.failures import NetworkFailure, UsageError
from netdiag.core.targets import parse_endpoint

if TYPE_CHECKING:
    from netdiag.adapters.client import (
        Attempt,
        ClientEvent,
        Connection,
        NoReply,
        PeerKeepsSending,
        TimeLimit,
        Unsent,
    )
    from netdiag.render.output import Output

HELP = """Connect to a server, send what you type (or each --message), print the replies as they arrive.

Interactive (no --message): each line typed on stdin is sent, and replies are printed as they arrive, so a
chat works. Over TCP the newline is chosen by default: the first line goes out without it, as the lab's
clients send; a server that answers at once (the lab's, whose `close` must be the whole message) gets every
line so, while one that waits for the line's end (nc, line-based servers) gets the newline 0.5 s later and
on every later line. --newline sets it instead. End of input (Ctrl-D; on Windows Ctrl-Z then Enter; or
the end of a pipe) closes our sending side (TCP FIN) and waits up to --timeout for the rest of the
replies; a server that then sends the same reply over and over (it does not handle recv() returning
b'') is stopped and named.

Scripted (--message, repeatable): each message is sent exactly as given, by default WITHOUT a newline,
the way the lab's clients send (one message per send()); its reply is awaited up to --timeout and
printed. For line-based servers (nc, chat, telnet-style) add --newline lf or --crlf.

--timeout is an idle timeout: it bounds each wait in which nothing arrives, so a server that keeps
sending (even one byte at a time) keeps the session going. --max-time bounds the whole run (connect
included), like curl's: for scripts. Replies are printed as they arrive, in pieces for long ones.

Every address the name resolves to is tried in turn (for example ::1 then 127.0.0.1); -v shows each
attempt and the timings (name resolution, TCP connect, first reply) on stderr. Replies go to stdout,
everything else to stderr. --format json prints one JSON object per event on stdout instead (connected,
sent, reply, no-reply, close, ..., then done or error), for scripts.

Exit codes: 0 connected and every message answered; 1 the network said no (refused, timed out, reset,
name not resolved, UDP port unreachable, a message without reply, messages left unsent because the
server closed first, --max-time reached); 2 usage error (bad HOST:PORT or option); 130 interrupted (Ctrl-C).
"""


class Newline(str, Enum):
    """What ends each message sent: nothing (the lab's clients), ``\\n``, or ``\\r\\n``."""

    none = "none"
    lf = "lf"
    crlf = "crlf"


_ENDINGS = {Newline.none: b"", Newline.lf: b"\n", Newline.crlf: b"\r\n"}
MAX_INPUT_PIECE = 65536  # TCP: a longer stdin line is sent in pieces as it is read (bounded memory)
MAX_SECONDS = 86400.0  # a day: longer waits overflow the OS's timeout types (1e300 crashed settimeout)


def register(app: typer.Typer) -> None:
    app.command(
        name="connect",
        help=HELP,
        epilog=examples(
            "netdiag connect 127.0.0.1:8000   # type lines, see replies; Ctrl-D to end",
            "netdiag connect 127.0.0.1:8000 --message hello --message close",
            "netdiag connect localhost:8000 -m hi -v   # show each address tried and the timings",
            "netdiag connect 127.0.0.1:8000 --newline lf -m 'a line for nc or chat'",
            "netdiag connect 127.0.0.1:9000 --udp -m ping --timeout 2",
            "netdiag connect 127.0.0.1:8000 -m hello --format json",
            "netdiag connect 127.0.0.1:8000 -m get --max-time 10   # give up after 10 s in all",
        ),
        cls=PlainCoercionCommand,  # every option is a plain str/float/bool/enum: no pydantic at start-up
    )(connect_command)


def connect_command(
    target: Annotated[str, typer.Argument(help="HOST:PORT or [IPv6]:PORT, e.g. 127.0.0.1:8000.")],
    message: Annotated[
        list[str] | None,
        typer.Option("--message", "-m", metavar="TEXT", help="Send this message and print its reply "
                     "(repeatable, in order). Without it, stdin lines are sent."),
    ] = None,
    udp: Annotated[
        bool, typer.Option("--udp", "-u", help="Send UDP datagrams instead of a TCP stream.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", "-t", min=0.01, max=MAX_SECONDS,
                            help="Idle timeout: seconds to wait for each connect attempt, each reply, and "
                            "the server's close after our end of input, with nothing arriving.")
    ] = 5.0,
    max_time: Annotated[
        float | None, typer.Option("--max-time", min=0.01, max=MAX_SECONDS, metavar="SECONDS",
                                   help="Stop after SECONDS in all (connect included), even while the "
                                   "server is still sending; exit 1.", show_default=False)
    ] = None,
    newline: Annotated[
        Newline | None,
        typer.Option("--newline", "-n", help="End each message with none, lf or crlf (default: none for "
                     "--message; stdin lines over TCP: none if the server answers the first line without "
                     "it, else lf; UDP: lf)."),
    ] = None,
    crlf: Annotated[
        bool, typer.Option("--crlf", "-C", help="Same as --newline crlf (like ncat -C).")
    ] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Do not wait for a reply to each --message (sink servers).")
    ] = False,
    ipv4: Annotated[bool, typer.Option("-4", help="Use IPv4 addresses only.")] = False,
    ipv6: Annotated[bool, typer.Option("-6", help="Use IPv6 addresses only.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show each address tried and the timings on stderr.")
    ] = False,
    fmt: ReportFormatOption = ReportFormat.text,
) -> None:
    import socket

    from netdiag.adapters.client import (
        ConnectFailure,
        exchange_messages,
        interactive_session,
        open_connection,
    )
    from netdiag.adapters.client.verdict import diagnosed_failure

    endpoint = parse_endpoint(target)
    _check_family(endpoint.host, ipv4=ipv4, ipv6=ipv6)
    ending = _message_ending(newline, crlf=crlf, messages=message or [], udp=udp)
    family = socket.AF_INET if ipv4 else socket.AF_INET6 if ipv6 else 0
    out = output()
    as_json = fmt == ReportFormat.json
    try:
        connection = open_connection(endpoint.host, endpoint.port, udp=udp, timeout=timeout, family=family,
                                     max_time=max_time)
    except ConnectFailure as refused:
        failure = (refused if udp
                   else diagnosed_failure(refused, endpoint.host, endpoint.port, timeout=timeout))
        if as_json:
            _emit(out, _error_record(failure, failure.attempts))
        if verbose and failure.attempts:
            out.info(f"{len(failure.attempts)} address(es) tried for {endpoint.host}:")
            _report_attempts(out, failure.attempts)
        if failure is refused:
            raise
        raise failure from refused
    with connection:
        if as_json:
            _emit(out, _connected_record(connection))
        if verbose or not as_json:
            _report_connected(out, connection, verbose=verbose, interactive=not message and not as_json)
        if message:
            suffix = _ENDINGS[ending or Newline.none]
            messages = [text.encode() + suffix for text in message]
            events = exchange_messages(connection, messages, timeout=timeout, wait_for_replies=not no_wait)
        else:
            lines = _stdin_lines(_ENDINGS[ending or Newline.lf], max_piece=None if udp else MAX_INPUT_PIECE)
            events = interactive_session(connection, lines, timeout=timeout,
                                         auto_newline=ending is None and not udp)
        try:
            problems = (_render_json(out, events, connection) if as_json
                        else _render(out, events, connection, verbose=verbose))
        except NetworkFailure as failure:
            if as_json:
                _emit(out, _error_record(failure, connection.attempts))
            raise
        if as_json:
            _emit(out, _done_record(connection, problems))
        if verbose:
            _report_timings(out, connection)
    if problems:
        raise NetworkFailure(" ".join(problems))


def _message_ending(newline: Newline | None, *, crlf: bool, messages: list[str], udp: bool) -> Newline | None:
    """The --newline asked for (``None``: the default of the mode); contradictions are usage errors."""
    if crlf and newline not in (None, Newline.crlf):
        raise UsageError(f"--crlf contradicts --newline {newline.value if newline else ''}: use one of them.")
    ending = Newline.crlf if crlf else newline
    if not udp and "" in messages and ending in (None, Newline.none):
        raise UsageError("An empty --message sends nothing over TCP (a stream has no empty message): "
                         "add --newline lf to send an empty line, or use --udp for an empty datagram.")
    return ending


def _check_family(host: str, *, ipv4: bool, ipv6: bool) -> None:
    """-4 with an IPv6 address (or -6 with an IPv4 one) can never connect: say so before resolving."""
    import ipaddress

    if ipv4 and ipv6:
        raise UsageError("-4 and -6 exclude each other: choose one address family, or neither for both.")
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:  # a name: it may have addresses of either family
        return
    if (ipv4 and version == 6) or (ipv6 and version == 4):
        wanted = "-4 (IPv4 only)" if ipv4 else "-6 (IPv6 only)"
        raise UsageError(f"{host} is an IPv{version} address, which {wanted} excludes: drop the option "
                         "or give an address of that family.")


def _stdin_lines(ending: bytes, *, max_piece: int | None = None) -> Iterator[bytes]:
    """Each stdin line with its own line ending replaced by ``ending`` (a last unfinished line too).

    A line longer than ``max_piece`` bytes (TCP: a stream has no lines to keep whole) goes out in pieces
    as it is read, so memory stays bounded whatever the input (``cat big.bin | netdiag connect ...``).
    Reads the file descriptor directly: the adapter reads this in a daemon thread, and a daemon thread
    blocked inside ``sys.stdin.buffer`` holds its lock, which aborts the interpreter at exit when the
    server ends the session first.
    """
    if sys.stdin is None:  # started with stdin closed (`<&-`): nothing to send, like an empty input
        return
    pending = b""
    in_line = False  # part of the current line went out already: its end still gets ``ending``
    while chunk := _read_stdin(sys.stdin.fileno()):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r") + ending
            in_line = False
        if max_piece is not None and len(pending) > max_piece:
            cut = len(pending) - 1 if pending.endswith(b"\r") else len(pending)  # a CR may begin a CRLF
            yield pending[:cut]
            pending = pending[cut:]
            in_line = True
    if pending or in_line:
        yield pending.rstrip(b"\r") + ending


def _read_stdin(fd: int) -> bytes:
    """The next chunk of input; an input that fails (EIO: its terminal hung up) ends like EOF."""
    import os

    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def _report_connected(out: Output, connection: Connection, *, verbose: bool, interactive: bool) -> None:
    if verbose:
        addresses = ", ".join(a.address for a in connection.attempts)
        out.info(f"resolved {connection.target} in {_ms(connection.timings.resolve)} "
                 f"({len(connection.attempts)} address(es) tried: {addresses})")
        _report_attempts(out, connection.attempts)
    if connection.udp:
        if interactive or verbose:
            out.info(f"UDP socket aimed at {connection.peer} from {connection.local} (UDP has no "
                     "handshake: a closed port shows only as a missing reply or an ICMP error).")
    elif interactive or verbose:
        hint = f" Type lines to send; {_end_keys()} ends." if interactive and _stdin_is_terminal() else ""
        out.info(f"Connected to {connection.peer} from {connection.local}." + hint)


def _report_attempts(out: Output, attempts: Sequence[Attempt]) -> None:
    for attempt in attempts:
        out.info(f"  {attempt.outcome} on {attempt.address} in {_ms(attempt.seconds)}"
                 + (f" ({attempt.detail})" if attempt.detail else ""))


def _end_keys() -> str:
    from netdiag.adapters.platform import end_of_input_keys

    return end_of_input_keys()


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _render(out: Output, events: Iterable[ClientEvent], connection: Connection, *,
            verbose: bool) -> list[str]:
    """Print each event; return the sentences that make the run a failure (exit 1)."""
    from netdiag.adapters.client import (
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

    unanswered: list[NoReply] = []
    unsent: list[Unsent] = []
    stopped: list[TimeLimit] = []
    received = 0
    for event in events:
        if isinstance(event, Received):
            received += len(event.data)
            # a piece cut mid-line continues on the same line; one cut after a newline ends its line
            open_line = event.partial and not event.data.endswith(b"\n")
            out.data(reply_text(event.data), end="" if open_line else "\n")
        elif isinstance(event, TimeLimit):
            stopped.append(event)
        elif isinstance(event, Sent) and verbose:
            out.info(f"> sent {len(event.data)} byte(s)")
        elif isinstance(event, NoReply):
            unanswered.append(event)
            out.warn(f"no reply to {_shown(event.message)} within {event.timeout:g} s")
        elif isinstance(event, PeerClosed):
            out.info("Connection closed by the server.")
        elif isinstance(event, HalfClosed) and verbose:
            out.info("end of input: sent FIN (shutdown SHUT_WR), waiting for the server to finish")
        elif isinstance(event, PeerKeptOpen):
            out.info(f"The server kept the connection open {event.timeout:g} s after our end of input; "
                     "closing it.")
        elif isinstance(event, PeerKeepsSending):
            out.warn(keeps_sending_sentence(event))
        elif isinstance(event, LineEnding) and verbose:
            out.info("the server waited for the end of the line: lines are sent with their newline"
                     if event.lines else "the server answered a line sent without its newline: lines are "
                     "sent without it, as the lab's clients send (--newline lf to change)")
        elif isinstance(event, Unsent):
            unsent.append(event)
    heard = _received_silently(unanswered, connection)
    if heard is not None:
        out.info(heard)
        unanswered = []
    return _problems(unanswered, unsent, connection, stopped, received)


def _received_silently(unanswered: Sequence[NoReply], connection: Connection) -> str | None:
    """UDP only: when a socket of this host is bound to the port, the datagrams were received and the
    server chose not to answer (a sink), which is no failure; None otherwise (then silence is one)."""
    if not (connection.udp and unanswered):
        return None
    from netdiag.adapters.listing.listeners import udp_receiver

    try:
        address, port = connection.sock.getpeername()[:2]
    except OSError:
        return None
    receiver = udp_receiver(str(address), int(port))
    if receiver is None:
        return None
    from netdiag.adapters.net.firewall import read_firewall

    if read_firewall(int(port), "udp").blocking_rules:  # this host's firewall may drop them before the socket
        return None
    return (f"The server received the {len(unanswered)} datagram(s) and sent nothing back: {receiver}. "
            "UDP needs no answer, so this is what a receive-only server (a sink) looks like.")


def _render_json(out: Output, events: Iterable[ClientEvent], connection: Connection) -> list[str]:
    """One JSON object per event on stdout; return the sentences that make the run a failure."""
    from netdiag.adapters.client import NoReply, Received, TimeLimit, Unsent

    unanswered: list[NoReply] = []
    unsent: list[Unsent] = []
    stopped: list[TimeLimit] = []
    received = 0
    for event in events:
        _emit(out, _event_record(event))
        if isinstance(event, NoReply):
            unanswered.append(event)
        elif isinstance(event, Unsent):
            unsent.append(event)
        elif isinstance(event, TimeLimit):
            stopped.append(event)
        elif isinstance(event, Received):
            received += len(event.data)
    heard = _received_silently(unanswered, connection)
    if heard is not None:
        _emit(out, {"event": "received-silently", "datagrams": len(unanswered), "detail": heard})
        unanswered = []
    return _problems(unanswered, unsent, connection, stopped, received)


def _problems(unanswered: Sequence[NoReply], unsent: Sequence[Unsent], connection: Connection,
              stopped: Sequence[TimeLimit] = (), received: int = 0) -> list[str]:
    """The sentences that make the session a failure (exit 1): replies missing, messages never sent,
    the time limit reached."""
    problems = [f"Stopped after --max-time {event.max_time:g} s, the session not finished: {received:,} "
                f"byte(s) received from {connection.peer} by then. The server may still be sending (a "
                "trickle or an endless stream keeps the idle --timeout from ever expiring); raise "
                "--max-time if it needs longer." for event in stopped]
    problems += [_no_reply_sentence(unanswered, connection)] if unanswered else []
    for event in unsent:
        problems.append(f"The server closed the connection before {len(event.messages)} message(s) "
                        f"could be sent ({', '.join(_shown(m) for m in event.messages)}).")
    return problems


def _emit(out: Output, record: dict[str, object]) -> None:
    import json
    import time

    out.data(json.dumps({**record, "time": round(time.time(), 6)}))


def _text(data: bytes) -> str:
    from netdiag.core.protocols.text import printable

    return printable(data)


def keeps_sending_sentence(event: PeerKeepsSending) -> str:
    """The lab's 1.10 server after our end of input, named: what it repeats and the fix in the server."""
    return (f"the server keeps sending after your end of input: it does not handle `recv()` returning "
            f"`b''`. It sent {_shown(event.unit)} over and over ({event.size:,} bytes in "
            f"{event.seconds:.2f} s) instead of closing; netdiag stopped there. Fix the server: end its "
            "loop when recv() returns b'' (data = conn.recv(1024); if not data: break).")


def _event_record(event: ClientEvent) -> dict[str, object]:
    from netdiag.adapters.client import (
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

    if isinstance(event, Received):
        record: dict[str, object] = {"event": "reply", "bytes": len(event.data), "text": _text(event.data)}
        return {**record, "partial": True} if event.partial else record
    if isinstance(event, TimeLimit):
        return {"event": "time-limit", "max_time": event.max_time}
    if isinstance(event, Sent):
        return {"event": "sent", "bytes": len(event.data), "text": _text(event.data)}
    if isinstance(event, NoReply):
        return {"event": "no-reply", "bytes": len(event.message), "text": _text(event.message),
                "timeout": event.timeout}
    if isinstance(event, PeerClosed):
        return {"event": "close", "by": "server"}
    if isinstance(event, PeerKeptOpen):
        return {"event": "kept-open", "timeout": event.timeout}
    if isinstance(event, Unsent):
        return {"event": "unsent", "messages": [_text(m) for m in event.messages]}
    if isinstance(event, PeerKeepsSending):
        return {"event": "keeps-sending", "text": _text(event.unit), "bytes": event.size,
                "seconds": round(event.seconds, 6)}
    if isinstance(event, LineEnding):
        return {"event": "line-ending", "newline": event.lines}
    return {"event": "half-close"}


def _attempt_records(attempts: Sequence[Attempt]) -> list[dict[str, object]]:
    return [{"address": a.address, "outcome": a.outcome, "cause": a.cause.value,
             "ms": round(a.seconds * 1000, 3)} for a in attempts]


def _connected_record(connection: Connection) -> dict[str, object]:
    return {"event": "connected", "proto": "udp" if connection.udp else "tcp", "target": connection.target,
            "peer": connection.peer, "local": connection.local,
            "attempts": _attempt_records(connection.attempts),
            "resolve_ms": _ms_value(connection.timings.resolve),
            "connect_ms": _ms_value(connection.timings.connect)}


def _done_record(connection: Connection, problems: list[str]) -> dict[str, object]:
    return {"event": "done", "ok": not problems, "problems": problems,
            "first_reply_ms": _ms_value(connection.timings.first_reply)}


def _error_record(failure: NetworkFailure, attempts: Sequence[Attempt]) -> dict[str, object]:
    cause = failure.explanation.cause.value if failure.explanation else "unknown"
    return {"event": "error", "cause": cause, "message": failure.message,
            "attempts": _attempt_records(attempts)}


def _ms_value(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _no_reply_sentence(unanswered: Sequence[NoReply], connection: Connection) -> str:
    count = len(unanswered)
    if connection.udp:
        return (f"No reply to {count} datagram(s) from {connection.peer}. UDP has no handshake, so "
                "silence is all a client sees when nothing answers: the server may not be running "
                "(and no ICMP error came back), may not reply, or a firewall drops the datagrams.")
    return (f"No reply to {count} message(s) from {connection.peer}. The connection is open, so the "
            "server got them but did not answer: it may wait for a newline (try --newline lf), or it "
            "never answers (a sink: use --no-wait).")


def _report_timings(out: Output, connection: Connection) -> None:
    timings = connection.timings
    first = ("no reply received" if timings.first_reply is None
             else f"first reply {_ms(timings.first_reply)}")
    what = "socket set up" if connection.udp else "TCP connect"
    out.info(f"timings: name resolution {_ms(timings.resolve)}, {what} {_ms(timings.connect)}, {first}")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f} ms"


def reply_text(data: bytes) -> str:
    """A reply as printable text: UTF-8 (invalid bytes as ``\\xNN``), unshown characters escaped.

    Escaping (``text.neutralise``) keeps a hostile or binary server from driving the terminal or
    reordering the line (no escape sequence, control, bidi or invisible character reaches it); CR-LF
    line ends become plain newlines; one trailing newline is dropped (printing adds one).
    """
    from netdiag.core.protocols.text import neutralise

    text = data.decode("utf-8", errors="backslashreplace").replace("\r\n", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return neutralise(text, keep="\n\t")


def _shown(message: bytes) -> str:
    return repr(message.decode("utf-8", errors="backslashreplace"))
