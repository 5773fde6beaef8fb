"""``netdiag load``'s report as text (render/load_report.py): the table row, JSON, and stderr lines."""

from __future__ import annotations

import json

from netdiag.core.loadplan import LoadPlan
from netdiag.core.loadstats import ErrorKind, LatencySummary, LoadReport
from netdiag.render.load_report import (
    errors_text,
    load_record,
    load_report_text,
    start_line,
    warning_lines,
)


def report(**changes: object) -> LoadReport:
    fields: dict[str, object] = dict(
        target="127.0.0.1:8000", proto="tcp", clients=2, size=10, rate=None, elapsed=2.0, requests=100,
        bytes_sent=1000, bytes_received=1000, connections=2, latency=LatencySummary.of([0.001] * 100))
    fields.update(changes)
    return LoadReport(**fields)  # type: ignore[arg-type]


def test_table_is_one_row_with_flattened_latency_and_errors() -> None:
    text = load_report_text(load_record(report(errors={ErrorKind.RESET: 3})), "table")
    header, row = text.splitlines()
    assert header.split() == ["TARGET", "PROTO", "CLIENTS", "REQUESTS", "REQ/S", "MB/S", "P50", "MS", "P90",
                              "MS", "P99", "MS", "MAX", "MS", "ERRORS"]
    assert row.split() == ["127.0.0.1:8000", "tcp", "2", "100", "50.0", "0.001", "1.0", "1.0", "1.0", "1.0",
                           "reset=3"]


def test_json_is_the_record_and_csv_uses_field_names() -> None:
    record = load_record(report())
    assert json.loads(load_report_text(record, "json")) == record
    assert load_report_text(record, "csv").splitlines()[0] == (
        "target,proto,clients,requests,requests_per_s,mb_per_s,p50_ms,p90_ms,p99_ms,max_ms,errors")


def test_errors_text() -> None:
    assert errors_text({"refused": 0, "reset": 0}) == "0"
    assert errors_text({"refused": 2, "reset": 0, "timeout": 1}) == "refused=2 timeout=1"


def test_start_line() -> None:
    plan = LoadPlan(host="127.0.0.1", port=9000, clients=4, duration=2.5, size=32, rate=100.0, udp=True)
    assert start_line("127.0.0.1:9000", plan) == (
        "loading 127.0.0.1:9000 with 4 UDP client(s) for 2.5 s (32 bytes per request, 100 requests/s); "
        "Ctrl-C stops early")
    assert "(64 bytes per request);" in start_line("x", LoadPlan(host="127.0.0.1", port=1))


def test_warning_lines() -> None:
    assert warning_lines(report()) == []
    failed = report(errors={ErrorKind.TIMEOUT: 2}, first_error="timeout: x", interrupted=True, elapsed=1.25)
    assert warning_lines(failed) == ["2 request(s) failed; first: timeout: x",
                                     "interrupted after 1.2 s: the figures cover that part of the run"]
    one = report(clients=3, errors={ErrorKind.REFUSED: 2}, served_clients=1)
    assert warning_lines(one) == [one.one_client_sentence()]
