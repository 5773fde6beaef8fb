"""`netdiag explain`: why a connection fails (a checklist and a verdict), or what a pasted error means.

Only typer and cheap core modules are imported here; the resolver, prober, psutil and the firewall reader
are imported inside the command, and ``--error`` needs none of them.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from netdiag.cli.common import DrawingFormat, ReportFormat, examples, output
from netdiag.cli.plain_coercion import PlainCoercionCommand
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import UsageError
from netdiag.core.payload import DEFAULT_PAYLOAD, udp_payload

HELP = """Diagnose a failed connection, explain a pasted error message, or read a capture file.

With TARGET (HOST:PORT or [IPv6]:PORT): a step-by-step checklist (name resolution, route, who listens on
this machine, the connection attempt on every address, the firewall rules readable here) ending in a
verdict: the most likely cause, why, and numbered fixes.

With --error TEXT: what an error message or error number means (Python, Windows, curl, ssh, nc, Java,
Node, Go), the likely causes and the fixes. The same number means different things on Linux, macOS and
Windows: each reading names its platform, or give --platform. Use --error - to read the text from stdin.

With --pcap FILE (pcap or pcapng from tcpdump, Wireshark, dumpcap; no root needed): how every TCP
connection and UDP flow in the capture went (completed, refused, no answer, ICMP unreachable, reset,
half-closed, still open), in the same cause codes, as a table, then the ladder diagram of each failed
connection (or of --connection N). --port and --host keep the connections that match. --format svg (or
html, a self-contained page) writes one connection's ladder as a drawing for slides: --connection N, or
the failed one when exactly one failed.

JSON output carries a stable `cause` code (docs/troubleshooting.md lists them all).

Exit codes: 0 the connection works (or the error was recognised), 1 it does not (or the error is not
recognised; --pcap: a connection failed), 2 usage error, 4 (--pcap) the file is damaged or cut short: the
result covers the packets before the damage.
"""

EPILOG = examples(
    "netdiag explain 127.0.0.1:8000",
    "netdiag explain 127.0.0.1:8000 --format json",
    "netdiag explain localhost:5353 --udp --timeout 1",
    "python3 client.py 2>&1 | tail -1 | netdiag explain --error -   # the client's last line",
    "netdiag explain --error 'ConnectionRefusedError: [Errno 111] Connection refused'",
    "netdiag explain --error 'ConnectionRefusedError: [WinError 10061] No connection could be made'",
    "netdiag explain --error 61 --platform macos   # the same number means different things per OS",
    "netdiag explain --pcap capture.pcapng --port 8000   # every connection to/from port 8000 in a capture",
    "netdiag explain --pcap capture.pcap --connection 3 --format json",
    "netdiag explain --pcap capture.pcap --connection 3 --format svg   # its ladder for slides, on stdout",
)


class PlatformChoice(str, Enum):
    linux = "linux"
    macos = "macos"
    windows = "windows"


def register(app: typer.Typer) -> None:
    # every option is a plain str/float/bool/enum: no pydantic at start-up
    app.command(name="explain", help=HELP, epilog=EPILOG, cls=PlainCoercionCommand)(explain_command)


def explain_command(
    target: Annotated[str | None, typer.Argument(metavar="TARGET", help="HOST:PORT to diagnose.",
                                                 show_default=False)] = None,
    error: Annotated[str | None, typer.Option("--error", "-e", metavar="TEXT",
                                              help="An error message or number to explain ('-': stdin).",
                                              show_default=False)] = None,
    platform: Annotated[PlatformChoice | None, typer.Option(
        "--platform", help="Where the --error came from (default: every platform that knows it).",
        show_default=False)] = None,
    udp: Annotated[bool, typer.Option("--udp", "-u", help="Diagnose UDP instead of TCP.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", "-t", min=0.001, max=3600,
                                           help="Seconds to wait for the connection attempt.")] = 2.0,
    fmt: Annotated[DrawingFormat, typer.Option(
        "--format", "-f", help="Output format: text, json, or with --pcap svg / html (one connection's "
        "ladder, for slides).")] = DrawingFormat.text,
    connect: Annotated[bool, typer.Option(
        "--connect", help="Connect for real (a port of this host is read from its socket table "
        "otherwise, another host gets a half-open SYN when allowed).")] = False,
    pcap: Annotated[str | None, typer.Option(
        "--pcap", metavar="FILE", show_default=False,
        help="Explain every connection in a pcap/pcapng capture.")] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", min=0, max=65535, show_default=False,
                                             help="With --pcap: only connections to or from PORT.")] = None,
    host: Annotated[str | None, typer.Option(
        "--host", metavar="ADDRESS", show_default=False,
        help="With --pcap: only connections to or from ADDRESS.")] = None,
    connection: Annotated[int | None, typer.Option("--connection", "-n", min=1, metavar="N",
                                                   show_default=False,
                                                   help="With --pcap: draw connection N only.")] = None,
    payload: Annotated[str | None, typer.Option(
        "--payload", metavar="TEXT", help="UDP: the datagram another host is sent (escapes \\n \\xNN; "
        "default 'hello', never empty).")] = None,
) -> None:
    """Diagnose TARGET, or explain --error TEXT, or every connection of --pcap FILE."""
    if sum(x is not None for x in (target, error, pcap)) != 1:
        raise UsageError("Give a TARGET to diagnose (netdiag explain 127.0.0.1:8000), --error TEXT to "
                         "explain, or --pcap FILE to read: exactly one of them.")
    if pcap is None and (port is not None or host is not None or connection is not None):
        raise UsageError("--port, --host and --connection apply to --pcap FILE only.")
    if pcap is None and fmt in (DrawingFormat.svg, DrawingFormat.html):
        raise UsageError(f"--format {fmt.value} draws a connection of a capture file: it applies to --pcap "
                         "FILE only (a TARGET or an --error has no ladder to draw; use text or json).")
    if pcap is not None:
        if platform is not None or udp:
            raise UsageError("--platform and --udp do not apply to --pcap: the capture says what it holds.")
        from netdiag.cli.explain_pcap import explain_capture

        raise typer.Exit(int(explain_capture(pcap, port=port, host=host, connection=connection, fmt=fmt)))
    report = ReportFormat(fmt.value)
    if error is not None:
        status = explain_error(error, platform=platform.value if platform else None, fmt=report)
    else:
        if platform is not None:
            raise UsageError("--platform applies to --error only: a TARGET is diagnosed from this machine.")
        assert target is not None
        status = explain_target(target, udp=udp, timeout=timeout, fmt=report, connect=connect,
                                payload=udp_payload(payload, udp=udp))
    raise typer.Exit(int(status))


def explain_error(text: str, *, platform: str | None, fmt: ReportFormat) -> ExitStatus:
    from netdiag.adapters.platform import errno_platform
    from netdiag.core.error_text import read_error_text
    from netdiag.render.explanation import error_reading_lines, error_reading_record
    from netdiag.render.records import to_json

    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise UsageError("--error needs the text of an error message, or an error number.")
    reading = read_error_text(text.strip(), platform=platform,  # type: ignore[arg-type]
                              running_on=errno_platform())
    out = output()
    if fmt == ReportFormat.json:
        out.data(to_json(error_reading_record(reading)))
    else:
        for line in error_reading_lines(reading, style=out.style):
            out.data(line)
    return ExitStatus.OK if reading.recognised else ExitStatus.NETWORK_SAID_NO


def explain_target(text: str, *, udp: bool, timeout: float, fmt: ReportFormat,
                   connect: bool = False, payload: bytes = DEFAULT_PAYLOAD) -> ExitStatus:
    from netdiag.adapters.explain import gather_observations
    from netdiag.core.diagnosis import diagnose
    from netdiag.core.probe import Proto
    from netdiag.core.targets import parse_endpoint
    from netdiag.render.explanation import checklist_lines, diagnosis_record
    from netdiag.render.records import to_json

    endpoint = parse_endpoint(text)
    out = output()
    if fmt == ReportFormat.text and out.interactive:
        out.info(f"checking {endpoint} (up to {timeout:g} s for the connection attempt) ...")
    obs = gather_observations(endpoint.host, endpoint.port, proto=Proto.UDP if udp else Proto.TCP,
                              timeout=timeout, connect=connect, payload=payload)
    diagnosis = diagnose(obs)
    if fmt == ReportFormat.json:
        out.data(to_json(diagnosis_record(obs, diagnosis)))
    else:
        for line in checklist_lines(obs, diagnosis, style=out.style):
            out.data(line)
    from netdiag.core.probe_report import connect_note

    note = connect_note(obs.attempts, asked=connect)
    if note is not None:
        out.info(note)
    return ExitStatus.OK if diagnosis.ok else ExitStatus.NETWORK_SAID_NO
