"""`netdiag connect HOST:PORT`: the lab's client, done properly (interactive, scripted, TCP or UDP)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.cli.common import ReportFormat, ReportFormatOption, examples, output
from netdiag.cli.plain_coercion import PlainCoercionCommand
from netdiag.core.failures import NetworkFailure, UsageError
from netdiag.core.targets import check_family, parse_endpoint, wanted_family

if TYPE_CHECKING:
    from netdiag.adapters.client import Connection
    from netdiag.core.client_events import ClientEvent
    from netdiag.render.connect_view import Tally
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
    from netdiag.render import connect_view as view

    endpoint = parse_endpoint(target)
    check_family(endpoint.host, wanted_family(ipv4=ipv4, ipv6=ipv6))
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
            _emit(out, view.error_record(failure, failure.attempts))
        if verbose and failure.attempts:
            out.info(view.tried_line(endpoint.host, failure.attempts))
            for line in view.attempt_lines(failure.attempts):
                out.info(line)
        if failure is refused:
            raise
        raise failure from refused
    with connection:
        if as_json:
            _emit(out, view.connected_record(connection))
        if verbose or not as_json:
            interactive = not message and not as_json
            keys = _end_keys() if interactive and not udp and _stdin_is_terminal() else None
            for line in view.connected_lines(connection, verbose=verbose, interactive=interactive,
                                             end_keys=keys):
                out.info(line)
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
                _emit(out, view.error_record(failure, connection.attempts))
            raise
        if as_json:
            _emit(out, view.done_record(connection, problems))
        if verbose:
            out.info(view.timings_line(connection))
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


def _end_keys() -> str:
    from netdiag.adapters.platform import end_of_input_keys

    return end_of_input_keys()


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _render(out: Output, events: Iterable[ClientEvent], connection: Connection, *,
            verbose: bool) -> list[str]:
    """Print each event as it arrives; return the sentences that make the run a failure (exit 1)."""
    from netdiag.render.connect_view import Tally, event_line

    tally = Tally()
    for event in events:
        tally.add(event)
        line = event_line(event, verbose=verbose)
        if line is None:
            continue
        if line.stream == "data":
            out.data(line.text, end=line.end)
        elif line.stream == "warn":
            out.warn(line.text)
        else:
            out.info(line.text)
    heard = _received_silently(tally, connection)
    if heard is not None:
        out.info(heard)
        tally.unanswered.clear()
    return tally.problems(connection)


def _render_json(out: Output, events: Iterable[ClientEvent], connection: Connection) -> list[str]:
    """One JSON object per event on stdout; return the sentences that make the run a failure."""
    from netdiag.render.connect_view import Tally, event_record, received_silently_record

    tally = Tally()
    for event in events:
        _emit(out, event_record(event))
        tally.add(event)
    heard = _received_silently(tally, connection)
    if heard is not None:
        _emit(out, received_silently_record(len(tally.unanswered), heard))
        tally.unanswered.clear()
    return tally.problems(connection)


def _received_silently(tally: Tally, connection: Connection) -> str | None:
    """UDP only: when a socket of this host is bound to the port, the datagrams were received and the
    server chose not to answer (a sink), which is no failure; None otherwise (then silence is one)."""
    if not (connection.udp and tally.unanswered):
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
    from netdiag.render.connect_view import received_silently_sentence

    return received_silently_sentence(len(tally.unanswered), receiver)


def _emit(out: Output, record: dict[str, object]) -> None:
    import time

    from netdiag.render.connect_view import stamped_json

    out.data(stamped_json(record, time.time()))
