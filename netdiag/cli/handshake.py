"""`netdiag handshake`: capture a real TCP connection and draw it as a sequence diagram.

Only typer and cheap core modules are imported here; scapy (through ``netdiag.adapters.capture.live``) and the
renderer are imported inside the command, so no other command and no ``--help`` ever loads scapy.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.cli.common import DrawingFormat, examples, output
from netdiag.cli.web_option import WebOption, WebOptionCommand, lecture_server
from netdiag.core.catalog import Cause, explanation_for
from netdiag.core.failures import NetworkFailure, UsageError
from netdiag.core.targets import format_endpoint, parse_endpoint

if TYPE_CHECKING:  # for annotations only: scapy's adapter is imported inside the command
    from netdiag.adapters.capture.live import ConnectionCapture
    from netdiag.adapters.web.process import LectureProcess
    from netdiag.core.connection_tracker import Forgotten, WatchEvent
    from netdiag.render.output import Output


ReportFormatOption = Annotated[DrawingFormat, typer.Option(
    "--format", "-f", help="Output format: text, json, or svg / html (a drawing for slides).")]

HELP = """Capture a TCP handshake and draw it as a sequence diagram.

Active (HOST:PORT): netdiag starts a capture, connects (the client socket is bound first, so the capture
names the exact connection), optionally sends --message, closes, and draws every segment: the handshake
(SYN, SYN-ACK, ACK), the data, and the teardown (FIN/ACK or RST). Sequence numbers are relative (the SYN
is seq=0, as in Wireshark); --absolute shows the real ones, as tcpdump -S does. A refused port shows
SYN -> RST,ACK; a filtered one shows the SYN retransmitted, with the gaps, until --timeout.

Passive (--watch PORT): print each new connection to or from PORT as it happens, until Ctrl-C or --count.
With --web, also serve a live page of the same drawings for a projector (127.0.0.1 unless --web
HOST:PORT says otherwise). --format svg (or html) writes the captured connection as a drawing for slides.

Capturing needs root, or CAP_NET_RAW and CAP_NET_ADMIN: sudo, or a copy of the interpreter in netdiag's
virtual environment given them with setcap, runnable by a capture group only (never python3 itself).

Exit codes: 0 accepted (watch: stopped normally), 1 refused, filtered or reset, 2 usage error,
3 no capture privileges (or capture unavailable).
"""

EPILOG = examples(
    "sudo netdiag handshake 127.0.0.1:8000",
    "sudo netdiag handshake localhost:8000 --message 'hello' --absolute",
    "sudo netdiag handshake 127.0.0.1:8000 --format json --pcap handshake.pcap",
    "sudo netdiag handshake 127.0.0.1:9 --timeout 3",
    "sudo netdiag handshake --watch 8000 --count 5",
    "sudo netdiag handshake --watch 8000 --web  # the live page for the projector",
    "sudo netdiag handshake 127.0.0.1:8000 --format svg  # a drawing for slides, on stdout",
)


def register(app: typer.Typer) -> None:
    app.command(name="handshake", help=HELP, epilog=EPILOG, cls=WebOptionCommand)(handshake_command)


def handshake_command(
    target: Annotated[str | None, typer.Argument(metavar="[HOST:PORT]", show_default=False,
                                                 help="Where to connect (active mode).")] = None,
    watch: Annotated[int | None, typer.Option("--watch", "-w", metavar="PORT", min=1, max=65535,
                                              help="Watch connections to/from PORT instead.")] = None,
    message: Annotated[str | None, typer.Option("--message", "-m",
                                                help="Send this text and a newline.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", "-t", min=0.01, max=600,
                                           help="Seconds to wait for the handshake and the reply.")] = 5.0,
    absolute: Annotated[bool, typer.Option("--absolute", "-S",
                                           help="Absolute sequence numbers (as tcpdump -S).")] = False,
    fmt: ReportFormatOption = DrawingFormat.text,
    pcap: Annotated[str | None, typer.Option("--pcap", metavar="FILE",
                                             help="Also write the captured segments to a pcap file.")] = None,
    iface: Annotated[str | None, typer.Option(
        "--iface", "-i", help="Capture on this interface (default: the route's; --watch: all).")] = None,
    count: Annotated[int | None, typer.Option("--count", "-c", min=1,
                                              help="Watch: stop after N connections have ended.")] = None,
    web: WebOption = None,
) -> None:
    if (target is None) == (watch is None):
        raise UsageError("Give either HOST:PORT (connect and capture) or --watch PORT (watch), not both "
                         "and not neither. Example: netdiag handshake 127.0.0.1:8000")
    if watch is not None:
        if message is not None or pcap is not None:
            raise UsageError("--message and --pcap apply to the active mode (HOST:PORT), not to --watch.")
        if fmt in (DrawingFormat.svg, DrawingFormat.html):
            raise UsageError("--format svg and html draw one captured connection (HOST:PORT); a watch "
                             "draws live in the browser with --web.")
        watch_connections(watch, iface=iface, count=count, absolute=absolute, fmt=fmt, web=web)
        return
    assert target is not None
    if count is not None or web is not None:
        raise UsageError(f"{'--count' if count is not None else '--web'} applies to --watch only.")
    capture_and_draw(target, message=message, timeout=timeout, absolute=absolute, fmt=fmt, pcap=pcap,
                     iface=iface)


def capture_and_draw(target: str, *, message: str | None, timeout: float, absolute: bool,
                     fmt: DrawingFormat, pcap: str | None, iface: str | None) -> None:
    """The active mode: capture one connection, draw it, and end with the exit status it deserves."""
    endpoint = parse_endpoint(target)
    from netdiag.adapters.capture import live as capture
    from netdiag.adapters.capture.scapy_glue import write_pcap
    from netdiag.core.handshake import analyse_connection
    from netdiag.render.handshake_view import captured_line, outcome_failure
    from netdiag.render.records import to_json
    from netdiag.render.sequence import analysis_document, render_diagram

    if pcap is not None:
        _check_writable(pcap)
    address = capture.resolve_target(endpoint.host)
    payload = (message + "\n").encode() if message is not None else None
    result = capture.capture_connection(address, endpoint.port, interface=iface, message=payload,
                                        timeout=timeout, keep_packets=pcap is not None)
    out = output()
    if pcap is not None:
        write_pcap(result.packets, pcap)
    server = format_endpoint(address, endpoint.port)
    if not result.segments:
        _no_segments(result, server)
    analysis = analyse_connection(result.segments, client=result.client, server=result.server,
                                  waited=result.waited)
    if fmt is DrawingFormat.json:
        out.data(to_json(analysis_document(analysis, interface=result.interface)))
    elif fmt in (DrawingFormat.svg, DrawingFormat.html):
        from netdiag.render.ladder import Numbers, ladder_html, ladder_svg, summary_notes

        numbers = Numbers.ABSOLUTE if absolute else Numbers.RELATIVE
        out.info(captured_line(result.interface, result.client, server))
        out.data(ladder_svg(analysis, notes=summary_notes(analysis), numbers=numbers)
                 if fmt is DrawingFormat.svg else ladder_html(analysis, numbers=numbers))
    else:
        out.info(captured_line(result.interface, result.client, server))
        for line in render_diagram(analysis, absolute=absolute,
                                   paint=lambda text, style: out.style(text, style)):
            out.data(line)
    if result.missed:
        out.warn(f"the kernel counted {result.missed} more segment(s) on this connection than the "
                 "capture holds; the diagram may be incomplete (a busy machine drops packets).")
    if pcap is not None:
        out.info(f"Wrote {len(result.packets)} packets to {pcap} (open it with tcpdump -r or Wireshark).")
    failure = outcome_failure(analysis.outcome, server, result.waited)
    if failure is not None:
        text, cause = failure
        raise NetworkFailure(text, explanation=explanation_for(cause))


def _check_writable(path: str) -> None:
    """Say before capturing, not after, that the pcap file cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(f"Cannot write the capture to {path}: the folder {folder} does not exist or "
                         "is not writable. Choose another --pcap path.")


def _no_segments(result: ConnectionCapture, server: str) -> None:
    from netdiag.adapters.capture.live import ConnectStatus

    if result.status is ConnectStatus.UNREACHABLE:
        raise NetworkFailure(f"Cannot reach {server}: {result.os_error}.",
                             explanation=explanation_for(Cause.HOST_UNREACHABLE))
    raise NetworkFailure(
        f"The capture on {result.interface} saw no segment of the connection to {server} (the socket "
        f"said: {result.status.value}). Is {result.interface} the interface the traffic uses? "
        "Try --iface.", explanation=explanation_for(Cause.UNKNOWN))


def watch_connections(port: int, *, iface: str | None, count: int | None, absolute: bool,
                      fmt: DrawingFormat, web: str | None = None) -> None:
    """The passive mode: print each new connection on ``port`` as it opens and when it ends."""
    import time

    from netdiag.adapters.capture import live as capture
    from netdiag.core.connection_tracker import ConnectionTracker, Forgotten, WatchEventKind
    from netdiag.render.lecture import handshake_update

    out = output()
    tracker = ConnectionTracker()
    ended = 0
    interfaces = [iface] if iface else None
    try:
        with capture.watch_port(port, interfaces) as watch, lecture_server(web, handshake_update) as page:
            out.info(f"Watching TCP port {port} on {', '.join(watch.interfaces)}: each new connection "
                     "appears as it happens (Ctrl-C to stop).")
            if watch.skipped:
                out.info(f"note: not watching {', '.join(watch.skipped)}: down (no capture is possible "
                         "there until it is up; `netdiag interfaces` shows the states).")
            while count is None or ended < count:
                segment = watch.next_segment(0.2)
                # no segment: time still passes for the unanswered SYNs the tracker follows
                events = tracker.feed(segment) if segment is not None else tracker.expire(time.time())
                for event in events:
                    if isinstance(event, Forgotten):
                        _print_forgotten(event, fmt=fmt)
                        continue
                    _print_event(event, absolute=absolute, fmt=fmt)
                    _publish(page, event)
                    if event.kind is WatchEventKind.ENDED:
                        ended += 1
    except KeyboardInterrupt:
        for event in tracker.flush(time.time()):
            if isinstance(event, Forgotten):
                _print_forgotten(event, fmt=fmt)
        from netdiag.render.handshake_view import stopped_line

        out.info(stopped_line(ended, tracker.forgotten_total))


def _print_forgotten(event: Forgotten, *, fmt: DrawingFormat, out: Output | None = None) -> None:
    """Say that connections whose handshake never completed are no longer followed, and why."""
    from netdiag.render.handshake_view import forgotten_line

    (out or output()).data(forgotten_line(event, as_json=fmt is DrawingFormat.json))


def _publish(page: LectureProcess | None, event: WatchEvent) -> None:
    """Hand the event to the lecture page, if one is served (rendering happens in its own thread)."""
    if page is not None:
        page.publish(event)


def _print_event(event: WatchEvent, *, absolute: bool, fmt: DrawingFormat) -> None:
    from netdiag.render.handshake_view import watch_event_lines

    out = output()
    for line in watch_event_lines(event, absolute=absolute, as_json=fmt is DrawingFormat.json,
                                  paint=lambda text, style: out.style(text, style)):
        out.data(line)
