"""`netdiag load HOST:PORT`: a bounded load generator for echo servers, verifying every echoed byte."""

from __future__ import annotations

from typing import Annotated

import typer

from netdiag.cli.common import FormatOption, OutputFormat, examples, output
from netdiag.core.exit_status import ExitStatus
from netdiag.core.loadplan import MAX_CLIENTS, MAX_DURATION_S, LoadPlan
from netdiag.core.targets import parse_endpoint

HELP = f"""Load an echo server with N clients for a bounded time and report what it sustained.

Each client connects, sends a request of --size bytes (printable, unique, ending in a newline), waits for
the whole echo, checks it byte for byte, and repeats until --duration is over (or paced to a total --rate).
Reports requests/s, MB/s, latency p50/p90/p99/max (- when no request succeeded) and errors by kind:
TCP refused, reset, timeout, mismatch, closed, unreachable, other; UDP port-unreachable, no-answer,
mismatch, unreachable, other. A server that answers something else (a reply server) is a mismatch that
shows its answer.

Bounded by design: at most {MAX_CLIENTS:,} clients and {MAX_DURATION_S:.0f} s, and it stops by itself. Only
servers on this host are loaded (loopback or an address of a local interface) unless --allow-remote.

Ctrl-C stops the run early and still prints the report of what was measured (exit 130).

Exit codes: 0 every request echoed intact; 1 the server could not be reached, or at least one request
failed (see the errors); 2 usage error (bad option, or a target that is not on this host); 130
interrupted by Ctrl-C (the report covers the part that ran).
"""

def register(app: typer.Typer) -> None:
    app.command(
        name="load",
        help=HELP,
        epilog=examples(
            "netdiag listen 8000 --mode echo &   # a server to load, then:",
            "netdiag load 127.0.0.1:8000",
            "netdiag load 127.0.0.1:8000 --clients 100 --duration 10 --size 1024",
            "netdiag load 127.0.0.1:8000 --rate 500 --format json",
            "netdiag load 127.0.0.1:9000 --udp --clients 4",
        ),
    )(load_command)


def load_command(
    target: Annotated[str, typer.Argument(help="HOST:PORT of an echo server, e.g. 127.0.0.1:8000.")],
    clients: Annotated[int, typer.Option("--clients", "-c", help="Concurrent clients (connections).")] = 10,
    duration: Annotated[
        float, typer.Option("--duration", "-d", help=f"Seconds of load (at most {MAX_DURATION_S:.0f}).")
    ] = 5.0,
    size: Annotated[int, typer.Option("--size", "-s", help="Bytes per request.")] = 64,
    rate: Annotated[
        float | None, typer.Option("--rate", "-r", help="Total requests/s over all clients (default: "
                                   "as fast as the server answers).")
    ] = None,
    udp: Annotated[bool, typer.Option("--udp", help="Send UDP datagrams instead of TCP requests.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", "-t", help="Seconds to wait for each echo (and each connect).")
    ] = 2.0,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow a target that is not on this host (only load "
                           "servers you are allowed to test).")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> int:
    from netdiag.adapters.load import resolve_target, run_load
    from netdiag.render.load_report import load_record, load_report_text, start_line, warning_lines

    endpoint = parse_endpoint(target)
    plan = LoadPlan(host=endpoint.host, port=endpoint.port, clients=clients, duration=duration, size=size,
                    rate=rate, udp=udp, timeout=timeout)
    addresses = resolve_target(plan, allow_remote=allow_remote)
    out = output()
    report = run_load(plan, addresses=addresses, on_start=lambda where: out.info(start_line(where, plan)))
    out.data(load_report_text(load_record(report), fmt.value))
    for line in warning_lines(report):
        out.warn(line)
    if report.interrupted:
        return int(ExitStatus.INTERRUPTED)
    if report.error_count:
        return int(ExitStatus.NETWORK_SAID_NO)
    return int(ExitStatus.OK)
