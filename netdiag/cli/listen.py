"""`netdiag listen [HOST:]PORT`: the lab's servers (echo, reply, greet, chat, sink) on TCP or UDP.

Thin on purpose: parse the options, build ``ServerSettings``, hand over to ``netdiag.adapters.servers``
(imported inside the command, so ``netdiag --help`` stays fast). The protocols themselves are sans-I/O
handlers in ``netdiag.core.protocols``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.adapters.servers.settings import Engine, LogFormat
from netdiag.cli.common import examples, output
from netdiag.core.failures import NetdiagError, UsageError
from netdiag.core.protocols.options import (
    DEFAULT_MAX_CLIENTS,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_QUEUE,
    UDP_MODES,
    Mode,
)
from netdiag.core.targets import parse_listen_address

if TYPE_CHECKING:
    from collections.abc import Callable

    from netdiag.adapters.servers import EventLog
    from netdiag.adapters.servers.observer import Observer
    from netdiag.core.protocols.events import ServerWarning

HELP = """Run a lab server (echo, reply, greet, chat, sink) on TCP or UDP.

Binds 127.0.0.1 unless you give another host; port 0 lets the OS pick a free port. Every connection,
message and close is logged on stdout (one line per event; --log json for scripts). Ctrl-C or SIGTERM
stops it cleanly (exit 0).

Modes: echo sends every byte back; reply answers each message with `accepted` (`close` gets `closed` and
ends that connection); greet sends `You are connected`, prints the first message and closes; chat is a
line-based room (/nick NAME, /who, /quit); sink only reads. A client that never sent a newline (the lab's
clients) has one message per send(); after its first newline, messages are lines (nc, telnet). With --udp
(echo, reply, sink) each datagram is one message with at most one answer; `close` ends nothing.

Exit codes: 0 stopped by Ctrl-C/SIGTERM, 1 could not bind (address in use, not local) or too few open
files (ulimit -n), 2 usage error, 3 privileged port without root.
"""

EPILOG = examples(
    "netdiag listen 8000                        # echo server on 127.0.0.1:8000",
    "netdiag listen 0 --mode reply              # reply server on a free port",
    "netdiag listen 127.0.0.1:9000 --mode chat  # then: nc 127.0.0.1 9000 (in two terminals)",
    "netdiag listen 9000 --udp --mode sink      # print every datagram",
    "netdiag listen 9000 --udp --mode reply     # the lab's task 3: accepted / closed per datagram",
    "netdiag listen 8000 --engine threads       # thread per client, like the lab's server",
    "netdiag listen 8000 --observe              # as root: also the SYNs that never became connections",
    "netdiag listen 0 --log json                # machine-readable events, one JSON object per line",
)


def register(app: typer.Typer) -> None:
    app.command(name="listen", help=HELP, epilog=EPILOG)(listen_command)


def listen_command(
    address: Annotated[str, typer.Argument(metavar="[HOST:]PORT",
                                           help="Port (binds 127.0.0.1), or HOST:PORT / [IPv6]:PORT.")],
    mode: Annotated[Mode, typer.Option("--mode", "-m", help="What the server does with each client.")]
    = Mode.ECHO,
    udp: Annotated[bool, typer.Option("--udp", "-u", help="UDP instead of TCP (modes echo, reply and sink).")]
    = False,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (overrides HOST:); "
                                             "0.0.0.0 or :: means every interface.")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="asyncio (default) or threads "
                                           "(one thread per client, like the lab).")] = Engine.ASYNCIO,
    log: Annotated[LogFormat, typer.Option("--log", help="Event log on stdout: human lines or JSON lines.")]
    = LogFormat.HUMAN,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log only 'listening' and 'shutdown' "
                                        "(benchmarks).")] = False,
    max_clients: Annotated[int, typer.Option("--max-clients", min=1, help="Connections served at once; "
                                             "more are told so and closed.")] = DEFAULT_MAX_CLIENTS,
    max_line: Annotated[int, typer.Option("--max-line", min=1, help="Longest message in bytes (reply, "
                                          "greet, chat); longer: the client is told and disconnected.")]
    = DEFAULT_MAX_LINE,
    max_queue: Annotated[int, typer.Option("--max-queue", min=1, help="Chat: bytes waiting for one slow "
                                           "reader before it is dropped.")] = DEFAULT_MAX_QUEUE,
    idle_timeout: Annotated[float | None, typer.Option("--idle-timeout", min=0.001, help="Close a "
                                                       "connection silent for this many seconds.")]
    = None,
    observe: Annotated[bool, typer.Option("--observe", help="Also log the attempts that never became a "
                                          "connection (SYN not answered, handshake not completed, RST "
                                          "sent); needs capture privileges (sudo).")] = False,
) -> None:
    from netdiag.adapters.servers import EventLog, LoopOutOfFiles, ServerSettings, event_loop_name, run_server
    from netdiag.adapters.servers.binding import addresses_for_others, raise_open_files_limit
    from netdiag.adapters.servers.descriptors import descriptor_budget
    from netdiag.render import listen_view as view
    from netdiag.render.log_lines import human_line, json_line

    endpoint = parse_listen_address(address)
    bind_host = host if host is not None else endpoint.host
    if udp and mode not in UDP_MODES:
        raise UsageError(f"--udp works with --mode echo, reply or sink, not {mode.value} "
                         "(greet and chat need connections: drop --udp).")
    if udp and observe:
        raise UsageError("--observe follows TCP handshakes: UDP has none (drop --udp or --observe).")
    out = output()
    soft, hard = raise_open_files_limit()
    loop_name = "threads" if engine is Engine.THREADS else event_loop_name()
    budget = descriptor_budget(soft, engine, loop_name, udp=udp)
    if not budget.enough:
        raise NetdiagError(view.too_few_files(budget, hard, engine.value, loop_name))
    if not udp and budget.clients < max_clients:
        out.warn(view.fewer_clients_warning(soft, hard, max_clients, budget.clients))
        max_clients = budget.clients
    settings = ServerSettings(
        host=bind_host, port=endpoint.port, mode=mode, udp=udp, engine=engine, log=log, quiet=quiet,
        max_clients=max_clients, max_line=max_line, max_queue=max_queue, idle_timeout=idle_timeout,
        accept_batch=budget.turn_away or 1,
    )

    def on_ready(bound_host: str, port: int) -> None:
        others = addresses_for_others(bound_host)
        if bound_host in ("0.0.0.0", "::"):
            warning, *where = view.every_interface_lines(bound_host, others, port)
            out.warn(warning)
            for line in where:
                out.info(line)
        if log is LogFormat.HUMAN:
            out.info(view.try_it_line(bound_host, port, udp=udp))

    event_log = EventLog(json_line if log is LogFormat.JSON else human_line, sys.stdout, quiet=quiet)
    observer = start_observer(event_log, out.warn, address) if observe else None

    def ready(bound_host: str, port: int) -> None:
        on_ready(bound_host, port)
        if observer is not None:
            observer.start(port, bound_host)

    def warn(warning: ServerWarning) -> None:
        out.warn(view.server_warning_text(warning))

    try:
        run_server(settings, event_log, ready, warn=warn,
                   before_shutdown=observer.stop if observer is not None else None)
    except LoopOutOfFiles as exc:
        raise NetdiagError(view.out_of_files_text(exc.loop), errno=exc.errno) from exc
    finally:
        if observer is not None:
            observer.stop()


def start_observer(log: EventLog, warn: Callable[[str], None], address: str) -> Observer | None:
    """The ``--observe`` capture, or None (said once on stderr) when this process may not capture."""
    from netdiag.adapters.platform import may_capture
    from netdiag.adapters.servers.observer import Observer
    from netdiag.render.listen_view import cannot_observe_note, observer_warning

    if not may_capture():
        warn(cannot_observe_note(f"netdiag listen {address} --observe"))
        return None
    return Observer(log, lambda text: warn(observer_warning(text)))

