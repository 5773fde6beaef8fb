"""``netdiag load``'s report: the documented JSON object, the one-row table, and the lines said on stderr.

Pure: a plan and a report (``core.loadplan``, ``core.loadstats``) in, a record and lines out.
"""

from __future__ import annotations

from typing import Any

from netdiag.core.loadplan import LoadPlan
from netdiag.core.loadstats import TCP_KINDS, UDP_KINDS, LoadReport

TABLE_COLUMNS = ("target", "proto", "clients", "requests", "requests_per_s", "mb_per_s",
                 "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors")
TABLE_HEADERS = ("TARGET", "PROTO", "CLIENTS", "REQUESTS", "REQ/S", "MB/S",
                 "P50 MS", "P90 MS", "P99 MS", "MAX MS", "ERRORS")


def load_record(report: LoadReport) -> dict[str, Any]:
    """The documented JSON object (docs/load.md, "JSON output")."""
    return {
        "target": report.target,
        "proto": report.proto,
        "clients": report.clients,
        "size": report.size,
        "rate": report.rate,
        "elapsed_s": round(report.elapsed, 3),
        "requests": report.requests,
        "requests_per_s": round(report.requests_per_s, 1),
        "mb_per_s": round(report.mb_per_s, 3),
        "bytes_sent": report.bytes_sent,
        "bytes_received": report.bytes_received,
        "connections": report.connections,
        "latency_ms": report.latency.as_ms(),
        "errors": {kind.value: report.errors.get(kind, 0)
                   for kind in (UDP_KINDS if report.proto == "udp" else TCP_KINDS)},
        "error_count": report.error_count,
        "first_error": report.first_error,
        "interrupted": report.interrupted,
        "served_clients": report.served_clients,
        "one_client_at_a_time": report.one_client_at_a_time,
    }


def load_report_text(record: dict[str, Any], fmt: str) -> str:
    """The record as ``fmt``: JSON as documented, or one table/CSV row with latency and errors flattened."""
    from netdiag.render.records import render_records, to_json

    if fmt == "json":
        return to_json(record)
    latency = record["latency_ms"]
    row = {**record, "p50_ms": latency["p50"], "p90_ms": latency["p90"], "p99_ms": latency["p99"],
           "max_ms": latency["max"], "errors": errors_text(record["errors"])}
    return render_records([row], fmt, TABLE_COLUMNS, TABLE_HEADERS if fmt == "table" else None)


def errors_text(errors: dict[str, int]) -> str:
    """``refused=3 timeout=1``: the kinds that happened, or ``0``."""
    failed = [f"{kind}={count}" for kind, count in errors.items() if count]
    return " ".join(failed) if failed else "0"


def start_line(where: str, plan: LoadPlan) -> str:
    """Said on stderr as the load begins."""
    rate = f", {plan.rate:g} requests/s" if plan.rate else ""
    return (f"loading {where} with {plan.clients} {'UDP' if plan.udp else 'TCP'} client(s) for "
            f"{plan.duration:g} s ({plan.size} bytes per request{rate}); Ctrl-C stops early")


def warning_lines(report: LoadReport) -> list[str]:
    """The warnings after the report (stderr, each after ``warning: ``): a one-client server, failed
    requests, an interrupted run."""
    lines = []
    if report.one_client_at_a_time:
        lines.append(report.one_client_sentence())
    elif report.error_count:
        lines.append(f"{report.error_count} request(s) failed; first: {report.first_error}")
    if report.interrupted:
        lines.append(f"interrupted after {report.elapsed:.1f} s: the figures cover that part of the run")
    return lines
