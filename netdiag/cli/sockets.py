"""`netdiag sockets`: every socket with its state and owner, filters that read like English, a live view.

Only typer and pure core modules load with the CLI; psutil, the netlink reader, tabulate and the renderer
are imported inside the command (``netdiag --help`` stays fast). No ``from __future__ import
annotations`` here: typer reads the command's annotations at every start, and as strings each of them
would be compiled and evaluated first (a few milliseconds for this command's twenty options).
"""

import gc
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.cli.common import FormatOption, OutputFormat, examples, output
from netdiag.cli.web_option import WebOption, WebOptionCommand, lecture_server
from netdiag.core.failures import UsageError
from netdiag.core.socket_filters import SocketFilter, kinds_for, parse_states

if TYPE_CHECKING:
    from netdiag.core.sockets import SocketListing, SocketRow

HELP = """List sockets with their state and owning process, like ss / netstat.

Shows TCP and UDP sockets over IPv4 and IPv6 (add --unix for Unix domain sockets): protocol, local and
peer address:port, state in ss's words (LISTEN, ESTABLISHED, TIME_WAIT, UNCONN ...), pid and process.
Filters combine with AND: `-t -l --port 8000` is "TCP sockets listening on port 8000".

Without root, other users' sockets are still listed, with '-' as pid and process, and a note says so.
ss habits work: `netdiag sockets -tulpn` (-n, -p and -a are accepted and change nothing).

--watch redraws the list every --interval seconds and marks what appeared (+), what changed state (~,
e.g. ESTABLISHED -> TIME_WAIT) and what went away (-). Ctrl-C stops it (exit 0). When stdout is not a
terminal each refresh is appended instead of redrawn. --web also serves a live page that moves each TCP socket
across the TCP state diagram (on 127.0.0.1 unless --web HOST:PORT says otherwise).

Exit codes: 0 ok (also when nothing matches: a note says so on stderr), 2 usage error.
"""

EPILOG = examples(
    "netdiag sockets -l --port 8000  # what listens on port 8000?",
    "netdiag sockets -t --state established,time-wait",
    "netdiag sockets --process 'python*' --wide",
    "netdiag sockets --format json | jq '.[] | select(.state == \"LISTEN\")'",
    "netdiag sockets --summary",
    "netdiag sockets --watch --port 8000 --interval 0.5  # the lecture view",
    "netdiag sockets --watch --port 8000 --web  # ... and its state diagram in a browser",
    "sudo netdiag sockets  # every owner, also other users' processes",
)


def register(app: typer.Typer) -> None:
    app.command(name="sockets", help=HELP, epilog=EPILOG, cls=WebOptionCommand)(sockets_command)


def sockets_command(
    tcp: Annotated[bool, typer.Option("--tcp", "-t", help="TCP sockets.")] = False,
    udp: Annotated[bool, typer.Option("--udp", "-u", help="UDP sockets.")] = False,
    unix: Annotated[bool, typer.Option("--unix", "-x", help="Also Unix domain sockets.")] = False,
    listening: Annotated[bool, typer.Option(
        "--listening", "-l", help="Only sockets waiting for peers: TCP LISTEN, unconnected UDP.")] = False,
    ipv4: Annotated[bool, typer.Option("-4", "--ipv4", help="Only IPv4.")] = False,
    ipv6: Annotated[bool, typer.Option("-6", "--ipv6", help="Only IPv6.")] = False,
    port: Annotated[int | None, typer.Option("--port", min=0, max=65535, metavar="N",
                                             help="Local or remote port N.")] = None,
    state: Annotated[str | None, typer.Option("--state", metavar="S[,S...]",
                                              help="Only these states (LISTEN, ESTABLISHED, "
                                                   "TIME_WAIT, ...; ss spellings work).")] = None,
    pid: Annotated[int | None, typer.Option("--pid", min=0, metavar="N",
                                            help="Only sockets of this pid.")] = None,
    process: Annotated[str | None, typer.Option("--process", "-P", metavar="NAME",
                                                help="Only this process name (case-insensitive, "
                                                     "wildcards like 'python*').")] = None,
    wide: Annotated[bool, typer.Option("--wide", help="Add user and command line.")] = False,
    fmt: FormatOption = OutputFormat.table,
    summary: Annotated[bool, typer.Option("--summary", "-s", help="Counts per protocol and state (ss -s).")
                       ] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C, marking changes.")] = False,
    interval: Annotated[float, typer.Option("--interval", "-i", min=0.05, max=3600, metavar="S",
                                            help="Seconds between --watch refreshes.")] = 2.0,
    count: Annotated[int | None, typer.Option("--count", "-c", min=1, metavar="N",
                                              help="--watch: stop after N refreshes.")] = None,
    numeric: Annotated[bool, typer.Option("--numeric", "-n",
                                          help="ss habit, accepted: names are never resolved.")] = False,
    processes: Annotated[bool, typer.Option("--processes", "-p",
                                            help="ss habit, accepted: owners are always shown.")] = False,
    every_state: Annotated[bool, typer.Option("--all", "-a",
                                              help="ss habit, accepted: every state is shown.")] = False,
    engine: Annotated[str, typer.Option("--engine", metavar="auto|netlink|psutil",
                                        help="Where the listing comes from: auto (netlink on Linux, "
                                             "else psutil), netlink or psutil.")] = "auto",
    web: WebOption = None,
) -> None:
    if ipv4 and ipv6:
        raise UsageError("-4 and -6 together match nothing; leave both out to see IPv4 and IPv6.")
    if summary and watch:
        raise UsageError("--summary and --watch do not combine; use one of them.")
    if (count is not None or web is not None) and not watch:
        raise UsageError(f"{'--count' if count is not None else '--web'} applies to --watch only.")
    if watch and fmt is OutputFormat.csv:
        raise UsageError("--watch draws a table or writes JSON lines (--format json), not CSV.")
    if engine not in ("auto", "netlink", "psutil"):
        raise UsageError("--engine is auto, netlink or psutil.")
    selection = SocketFilter(
        protos=frozenset(), families=frozenset({"ipv4"} if ipv4 else {"ipv6"} if ipv6 else ()),
        listening=listening, port=port, states=parse_states(state) if state is not None else frozenset(),
        pid=pid, process=process,
    )
    if unix and not _has_unix_sockets():
        output().warn("Unix domain sockets are not available on this platform (Windows): --unix ignored; "
                      "listing TCP and UDP.")
        unix = False
    kinds = kinds_for(tcp=tcp, udp=udp, unix=unix)
    if watch:
        watch_sockets(kinds, selection, fmt=fmt, interval=interval, count=count, engine=engine, web=web)
    else:
        show_sockets(kinds, selection, fmt=fmt, wide=wide, summary=summary, engine=engine)


def _has_unix_sockets() -> bool:
    from netdiag.adapters.platform import has_unix_sockets

    return has_unix_sockets()


def _listing(kinds: tuple[str, ...], engine: str) -> "SocketListing":
    from netdiag.adapters.listing import list_sockets

    return list_sockets(kinds, engine=engine)


def show_sockets(kinds: tuple[str, ...], selection: SocketFilter, *, fmt: OutputFormat, wide: bool,
                 summary: bool, engine: str) -> None:
    # A listing makes a few objects per socket (100,000 at 20,000 sockets), none of them in a reference
    # cycle: the cyclic garbage collector would walk them a hundred times over for nothing (~10 ms).
    collecting = gc.isenabled()
    gc.disable()
    try:
        _show_sockets(kinds, selection, fmt=fmt, wide=wide, summary=summary, engine=engine)
    finally:
        if collecting:
            gc.enable()


def _show_sockets(kinds: tuple[str, ...], selection: SocketFilter, *, fmt: OutputFormat, wide: bool,
                  summary: bool, engine: str) -> None:
    from netdiag.render.socket_views import render_sockets, render_summary

    out = output()
    listing = _listing(kinds, engine)
    rows = selection.apply(listing.rows)
    if summary:
        from netdiag.core.socket_summary import summarize

        out.data(render_summary(summarize(rows), fmt.value))
    else:
        details = None
        if wide:
            from netdiag.adapters.listing.processes import describe_processes

            details = describe_processes({r.pid for r in rows if r.pid is not None})
        if rows or fmt is not OutputFormat.table:
            out.data(render_sockets(rows, fmt.value, details))
        if not rows:
            out.info(_nothing_matches(selection, kinds))
    if listing.note:
        out.info(f"note: {listing.note}")


def _nothing_matches(selection: SocketFilter, kinds: tuple[str, ...]) -> str:
    if selection.port is not None and selection.listening:
        return (f"Nothing listens on port {selection.port} here: a client connecting to it gets "
                f"'connection refused'. Start the server, or look for it with `netdiag sockets -l`.")
    return f"No socket matches ({'/'.join(kinds)}; {selection.describe()})."


def watch_sockets(kinds: tuple[str, ...], selection: SocketFilter, *, fmt: OutputFormat, interval: float,
                  count: int | None, engine: str, web: str | None = None) -> None:
    """Refresh until Ctrl-C or ``count`` refreshes; redraw in place only when stdout is a terminal."""
    from netdiag.render.lecture import sockets_item

    with lecture_server(web, sockets_item) as page:
        _watch_loop(kinds, selection, fmt=fmt, interval=interval, count=count, engine=engine,
                    publish=page.publish if page is not None else None)


def _watch_loop(kinds: tuple[str, ...], selection: SocketFilter, *, fmt: OutputFormat, interval: float,
                count: int | None, engine: str, publish: Callable[[object], None] | None) -> None:
    from netdiag.core.socket_watch import diff_listings
    from netdiag.render.screen import screen_frame
    from netdiag.render.socket_views import render_watch_frame, watch_events

    out = output()
    in_place = out.data_to_terminal and fmt is OutputFormat.table
    previous: list[SocketRow] | None = None
    refresh = 0
    noted = False
    try:
        while count is None or refresh < count:
            if refresh:
                time.sleep(interval)  # pacing the refreshes, not synchronisation
            refresh += 1
            listing = _listing(kinds, engine)
            rows = selection.apply(listing.rows)
            delta = diff_listings(previous, rows)
            previous = rows
            if publish is not None:
                publish((delta, refresh))  # encoded by the page's broadcaster thread, not here
            if fmt is OutputFormat.json:
                for line in watch_events(delta, refresh=refresh, time=time.time()):
                    out.data(line)
            else:
                frame = render_watch_frame(
                    delta, refresh=refresh, clock=time.strftime("%H:%M:%S"), interval=interval,
                    style=lambda text, *styles: out.style(text, *styles),
                )
                out.data(screen_frame(frame, in_place=in_place))
            if listing.note and not noted:
                out.info(f"note: {listing.note}")
                noted = True
    except KeyboardInterrupt:
        out.info("")  # Ctrl-C is how a watch ends: exit 0
