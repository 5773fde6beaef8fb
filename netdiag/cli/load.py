"""`netdiag load HOST:PORT`: a bounded load generator for echo servers, verifying every echoed byte."""

from __future__ import annotations

from typing import Annotated, Any

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

TABLE_COLUMNS = ("target", "proto", "clients", "requests", "requests_per_s", "mb_per_s",
                 "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors")
TABLE_HEADERS = ("TARGET", "PROTO", "CLIENTS", "REQUESTS", "REQ/S", "MB/S",
                 "P50 MS", "P90 MS", "P99 MS", "MAX MS", "ERRORS")


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

    endpoint = parse_endpoint(target)
    plan = LoadPlan(host=endpoint.host, port=endpoint.port, clients=clients, duration=duration, size=size,
                    rate=rate, udp=udp, timeout=timeout)
    addresses = resolve_target(plan, allow_remote=allow_remote)
    out = output()

    def started(where: str) -> None:
        out.info(f"loading {where} with {clients} {'UDP' if udp else 'TCP'} client(s) for {duration:g} s "
                 f"({size} bytes per request{f', {rate:g} requests/s' if rate else ''}); Ctrl-C stops early")

    report = run_load(plan, addresses=addresses, on_start=started)
    record = report.as_record()
    _print_report(record, fmt.value)
    if report.one_client_at_a_time:
        out.warn(report.one_client_sentence())
    elif report.error_count:
        out.warn(f"{report.error_count} request(s) failed; first: {report.first_error}")
    if report.interrupted:
        out.warn(f"interrupted after {report.elapsed:.1f} s: the figures cover that part of the run")
        return int(ExitStatus.INTERRUPTED)
    if report.error_count:
        return int(ExitStatus.NETWORK_SAID_NO)
    return int(ExitStatus.OK)


def _print_report(record: dict[str, Any], fmt: str) -> None:
    from netdiag.render.records import render_records, to_json

    out = output()
    if fmt == "json":
        out.data(to_json(record))
        return
    latency = record["latency_ms"]
    row = {**record, "p50_ms": latency["p50"], "p90_ms": latency["p90"], "p99_ms": latency["p99"],
           "max_ms": latency["max"], "errors": _errors_text(record["errors"])}
    out.data(render_records([row], fmt, TABLE_COLUMNS, TABLE_HEADERS if fmt == "table" else None))


def _errors_text(errors: dict[str, int]) -> str:
    failed = [f"{kind}={count}" for kind, count in errors.items() if count]
    return " ".join(failed) if failed else "0"
