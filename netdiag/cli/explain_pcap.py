"""`netdiag explain --pcap FILE`: how every connection of a capture file went, and why the failed ones failed.

Reading a file needs no privileges and no scapy: the reader is netdiag's own (``core.pcap_format``).
``--format svg|html`` draws one connection with ``render.ladder``, the renderer of ``handshake --format
svg``: one ladder per file, so one per slide (--connection N, or the failed one when only one failed).
Exit status: 0 every connection shown is fine, 1 at least one failed, 2 not a readable capture or a bad
filter, 4 the file is damaged or cut short (the result covers the packets before the damage; this wins
over 1, since a script must know the answer is partial).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

from netdiag.cli.common import DrawingFormat, output
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import UsageError

if TYPE_CHECKING:
    from netdiag.core.capture_verdicts import ConnectionVerdict


def _host_filter(host: str | None) -> str | None:
    if host is None:
        return None
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError as exc:
        raise UsageError(f"--host takes an IP address as the capture shows it (198.18.0.2, ::1), not "
                         f"{host!r}.") from exc


def explain_capture(path: str, *, port: int | None, host: str | None, connection: int | None,
                    fmt: DrawingFormat) -> ExitStatus:
    from netdiag.adapters.capture.pcap_file import read_capture
    from netdiag.core.capture_verdicts import verdicts
    from netdiag.render.capture_report import (
        CaptureFacts,
        capture_document,
        header_lines,
        ladder_lines,
        summary_table,
        warning_lines,
    )
    from netdiag.render.records import to_json

    address = _host_filter(host)
    keep = frozenset((connection,)) if connection is not None else frozenset()
    read = read_capture(path, keep=keep)
    table = read.table
    every = verdicts(table)
    table.release()
    shown = [v for v in every
             if (port is None or port in (v.client[1], v.server[1]))
             and (address is None or address in (v.client[0], v.server[0]))]
    facts = CaptureFacts(
        path=path, format=read.stream.format, link_types=tuple(read.stream.link_types),
        packets=table.packets, ip_packets=table.ip_packets, start=table.first_time, end=table.last_time,
        connections=len(every), untracked_packets=table.untracked_packets, max_flows=table.max_flows,
        damage=read.damage, damage_offset=read.damage_offset,
    )
    if connection is not None:
        chosen = [v for v in shown if v.number == connection]
        if not chosen:
            raise UsageError(f"There is no connection {connection} in {path}"
                             f"{' matching the filters' if port is not None or address else ''} "
                             f"(it has {len(every)}: run without --connection to list them).")
        ladders = {connection}
    else:
        ladders = {v.number for v in shown if not v.ok}
    out = output()
    for line in warning_lines(facts):
        out.warn(line)
    if fmt in (DrawingFormat.svg, DrawingFormat.html):
        out.data(_drawing(path, shown, connection, fmt))
    elif fmt is DrawingFormat.json:
        out.data(to_json(capture_document(facts, shown, ladders)))
    else:
        def paint(text: str, style: str) -> str:
            return out.style(text, style)

        for line in header_lines(facts, shown):
            out.data(line)
        if shown:
            out.data("")
            out.data(summary_table(shown, paint=paint))
        elif every:
            out.data("No connection matches --port/--host.")
        else:
            out.data("No TCP connection or UDP flow in this capture.")
        for verdict in shown:
            if verdict.number in ladders:
                out.data("")
                for line in ladder_lines(verdict, paint=paint):
                    out.data(line)
    if read.damage is not None:
        return ExitStatus.DAMAGED_INPUT
    if connection is not None:
        return ExitStatus.OK if all(v.ok for v in shown if v.number == connection) else \
            ExitStatus.NETWORK_SAID_NO
    return ExitStatus.OK if all(v.ok for v in shown) else ExitStatus.NETWORK_SAID_NO


def _drawing(path: str, shown: Sequence[ConnectionVerdict], connection: int | None,
             fmt: DrawingFormat) -> str:
    """One connection's ladder as SVG or a self-contained HTML page: --connection N, or the one failure.

    One ladder per file: a slide shows one connection readably, and a stack of them would not fit one.
    """
    from netdiag.render.capture_report import connection_analysis, drawing_notes
    from netdiag.render.ladder import ladder_html, ladder_svg

    if connection is not None:
        verdict = next(v for v in shown if v.number == connection)
    else:
        failed = [v for v in shown if not v.ok]
        if len(failed) != 1:
            numbers = ", ".join(str(v.number) for v in failed[:10]) + (", ..." if len(failed) > 10 else "")
            found = (f"{len(failed)} connections failed ({numbers})" if failed
                     else "No connection shown failed")
            raise UsageError(f"{found} in {path}: --format {fmt.value} draws one connection per file (one "
                             "slide); choose it with --connection N (run with --format text to list them).")
        verdict = failed[0]
    analysis = connection_analysis(verdict)
    if analysis is None:
        what = "a UDP flow" if verdict.proto != "tcp" else "a TCP connection whose segments were not kept"
        raise UsageError(f"Connection {verdict.number} is {what}: there is no ladder to draw; --format "
                         "text or json explains it.")
    notes = drawing_notes(verdict, analysis)
    return ladder_svg(analysis, notes=notes) if fmt is DrawingFormat.svg else \
        ladder_html(analysis, notes=notes)
