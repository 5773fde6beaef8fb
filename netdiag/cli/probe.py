"""`netdiag probe`: is this port open, closed or filtered, and why (nmap's words, plus a reason).

Only typer and cheap core modules are imported here; the prober, the resolver and the renderers are
imported inside the command, so a single ``netdiag probe 127.0.0.1:8000`` starts fast (no tabulate, no
psutil, no scapy: tests/cli/test_probe.py checks). No ``from __future__ import annotations`` here: typer
reads the command's annotations at every start, and string annotations would be compiled and evaluated
first (~4 ms CPU of a ~120 ms single probe, measured with bench/probe_startup.py).
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from netdiag.cli.common import FormatOption, OutputFormat, examples, output
from netdiag.cli.plain_coercion import PlainCoercionCommand
from netdiag.core.payload import udp_payload
from netdiag.core.probe import ProbeResult, Proto
from netdiag.core.targets import (
    ProbeTarget,
    ServiceLookup,
    check_family,
    parse_port_spec,
    parse_probe_target,
    wanted_family,
)

HELP = """Probe TCP/UDP ports: open, closed, filtered, and why.

TARGET is HOST:PORTS or [IPv6]:PORTS; PORTS is a list of numbers, ranges and service names
(22,80,8000-8010,https). Every address a name resolves to is probed. States and reasons use nmap's words:
open (syn-ack), closed (conn-refused), filtered (no-response, port-unreach, admin-prohibited),
unreachable (host-unreach, net-unreach), error (dns-failure); with --udp: open (udp-response),
closed (port-unreach), open|filtered (no-response).

Probing does no harm: TCP and UDP ports of this host are read from its socket table (open/listener,
closed/no-listener: nothing is sent); other hosts get a half-open SYN (as root or with CAP_NET_RAW:
the server never accept()s it), else a connection closed gracefully; over UDP, the --payload datagram.
--connect always connects (UDP: sends the datagram).

Exit codes: 0 every port open, 1 any port not open, 2 usage error.
"""

EPILOG = examples(
    "netdiag probe 127.0.0.1:8000",
    "netdiag probe localhost:22,80,443 [::1]:8000",
    "netdiag probe 127.0.0.1:1-1024 --format json",
    "netdiag probe 127.0.0.1:53 --udp --timeout 1",
    "netdiag probe 127.0.0.1:8000 --explain",
)

def register(app: typer.Typer) -> None:
    app.command(name="probe", help=HELP, epilog=EPILOG, cls=PlainCoercionCommand)(probe_command)


def probe_command(
    targets: Annotated[list[str], typer.Argument(metavar="TARGET", help="HOST:PORTS to probe.",
                                                 show_default=False)],
    udp: Annotated[bool, typer.Option("--udp", "-u", help="Probe UDP instead of TCP.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", "-t", min=0.001, max=3600,
                                           help="Seconds to wait for each answer.")] = 2.0,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=100_000,
                                             help="Most probes in flight at once.")] = 1000,
    fmt: FormatOption = OutputFormat.table,
    explain: Annotated[bool, typer.Option("--explain", "-e",
                                          help="Add the likely cause and how to fix it.")] = False,
    show_all: Annotated[bool, typer.Option("--all", "-a",
                                           help="List every port, even in big scans.")] = False,
    ports: Annotated[str | None, typer.Option("--ports", "-p", metavar="PORTS",
                                              help="Ports for targets given without any (HOST).")] = None,
    ipv4: Annotated[bool, typer.Option("-4", help="Probe IPv4 addresses only.")] = False,
    ipv6: Annotated[bool, typer.Option("-6", help="Probe IPv6 addresses only.")] = False,
    connect: Annotated[bool, typer.Option(
        "--connect", help="Connect for real, even to this host's ports (read from its socket table "
        "otherwise) and with a SYN probe available; the server sees a client.")] = False,
    payload: Annotated[str | None, typer.Option(
        "--payload", metavar="TEXT", help="UDP: the datagram sent to other hosts (and with --connect); "
        "escapes \\n \\xNN; default 'hello', never empty.")] = None,
) -> None:
    """Probe the ports of every TARGET and report state, reason and round-trip time."""
    import socket

    from netdiag.adapters.net.resolve import lookup_service
    from netdiag.adapters.probing.targets import probe_targets
    from netdiag.core.probe_report import connect_note, probe_exit_status, sort_results, summarize

    wanted = wanted_family(ipv4=ipv4, ipv6=ipv6)
    proto = Proto.UDP if udp else Proto.TCP
    datagram = udp_payload(payload, udp=udp)
    parsed = parse_targets(targets, proto=proto, ports=ports, lookup=lookup_service)
    for target in parsed:
        check_family(target.host, wanted)
    family = socket.AF_INET if ipv4 else socket.AF_INET6 if ipv6 else socket.AF_UNSPEC

    out = output()
    total = sum(len(t.ports) for t in parsed)
    bar = None
    if out.interactive:  # never a bar into a pipe or a file (nor its import)
        from netdiag.render.progress import progress_bar

        bar = progress_bar(out.err, interactive=True, total=total,
                           label=f"probing {total} {proto.value} ports")
    with paused_cyclic_gc():
        try:
            run = probe_targets(parsed, proto=proto, timeout=timeout, concurrency=concurrency,
                                family=family, progress=bar.update if bar is not None else None,
                                connect=connect, payload=datagram)
        finally:
            if bar is not None:
                bar.close()
        report = summarize(sort_results(run.results), show_all=show_all)

    for failure in run.resolution_failures:
        out.error(failure.failure.message)
    render_results(report.shown, fmt=fmt.value, explain=explain, proto=proto)
    for group in report.hidden:
        out.info(group.sentence())
    if explain and fmt == OutputFormat.table:
        explain_causes(report.shown)
    from netdiag.adapters.probing.scan import SYN_SCAN_LIMIT

    note = connect_note(run.results, asked=connect, syn_limit=SYN_SCAN_LIMIT)
    if note is not None:
        out.info(note)
    if run.limited_by_files:
        out.warn(f"probed at most {run.concurrency} ports at once: the open-files limit (ulimit -n) "
                 "allows no more.")
    raise typer.Exit(int(probe_exit_status(run.results)))


@contextmanager
def paused_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection while a scan allocates its jobs, outcomes and results.

    A full scan makes about 200,000 small acyclic objects; allocating them triggers hundreds of
    collections that walk them all for nothing (measured: a third of the time spent building 65,535
    results, and they are built after the probes, when the user is waiting). Nothing here forms a
    cycle, so nothing is lost; the collector is back on when the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_targets(texts: list[str], *, proto: Proto, ports: str | None,
                  lookup: ServiceLookup | None) -> list[ProbeTarget]:
    """Every TARGET parsed before anything is sent, so a typo costs no probe (usage error, exit 2)."""
    default_ports = parse_port_spec(ports, lookup=lookup, proto=proto.value) if ports else None
    return [parse_probe_target(text, lookup=lookup, proto=proto.value, default_ports=default_ports)
            for text in texts]


def render_results(results: list[ProbeResult], *, fmt: str, explain: bool, proto: Proto = Proto.TCP) -> None:
    from netdiag.adapters.net.resolve import service_names
    from netdiag.render.probe_table import probe_results_text

    out = output()
    names = service_names({r.port for r in results}, proto.value)
    text = probe_results_text(results, fmt=fmt, explain=explain, services=names, style=out.style)
    if text is not None:
        out.data(text)


def explain_causes(results: list[ProbeResult]) -> None:
    """After the table: each distinct cause once, with what it means and how to fix it (stderr)."""
    from netdiag.render.probe_table import cause_lines

    out = output()
    for line in cause_lines(results):
        out.info(line)
