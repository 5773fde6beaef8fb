"""`netdiag explain --pcap FILE`: how every connection of a capture file went, and why the failed ones failed.

Reading a file needs no privileges and no scapy: the reader is netdiag's own (``core.pcap_format``).
Exit status: 0 every connection shown is fine, 1 at least one failed, 2 not a readable capture or a bad
filter, 4 the file is damaged or cut short (the result covers the packets before the damage; this wins
over 1, since a script must know the answer is partial).
"""

from __future__ import annotations

import ipaddress

from netdiag.cli.common import ReportFormat, output
from netdiag.core.exit_status import ExitStatus
from netdiag.core.failures import UsageError


def _host_filter(host: str | None) -> str | None:
    if host is None:
        return None
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError as exc:
        raise UsageError(f"--host takes an IP address as the capture shows it (198.18.0.2, ::1), not "
                         f"{host!r}.") from exc


def explain_capture(path: str, *, port: int | None, host: str | None, connection: int | None,
                    fmt: ReportFormat) -> ExitStatus:
    from netdiag.adapters.capture_file import read_capture
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
    if fmt is ReportFormat.json:
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
