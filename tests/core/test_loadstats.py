from __future__ import annotations

import errno

import pytest

from netdiag.core.loadstats import (
    ErrorKind,
    LatencySummary,
    LoadReport,
    error_kind_for_errno,
    merge_error_counts,
    mismatch_detail,
    percentile,
)
from netdiag.render.load_report import load_record


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 1001)]  # 1..1000
    assert percentile(values, 0.50) == 500.0
    assert percentile(values, 0.90) == 900.0
    assert percentile(values, 0.99) == 990.0
    assert percentile(values, 1.0) == 1000.0
    assert percentile(values, 0.0) == 1.0


def test_percentile_of_one_and_of_none() -> None:
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_summary_sorts_its_samples() -> None:
    summary = LatencySummary.of([0.003, 0.001, 0.002, 0.010])
    assert (summary.count, summary.p50, summary.max) == (4, 0.002, 0.010)
    assert summary.as_ms()["p99"] == 10.0
    assert LatencySummary.of([]).count == 0


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (errno.ECONNREFUSED, ErrorKind.REFUSED),
        (errno.ECONNRESET, ErrorKind.RESET),
        (errno.EPIPE, ErrorKind.RESET),
        (errno.ETIMEDOUT, ErrorKind.TIMEOUT),
        (None, ErrorKind.TIMEOUT),
        (errno.EHOSTUNREACH, ErrorKind.UNREACHABLE),
        (errno.ENETUNREACH, ErrorKind.UNREACHABLE),
        (errno.EMFILE, ErrorKind.OTHER),
    ],
)
def test_error_kinds_by_errno(code: int | None, kind: ErrorKind) -> None:
    assert error_kind_for_errno(code) is kind


@pytest.mark.parametrize(("code", "kind"), [(errno.ECONNREFUSED, ErrorKind.PORT_UNREACHABLE),
                                            (None, ErrorKind.NO_ANSWER),
                                            (errno.EHOSTUNREACH, ErrorKind.UNREACHABLE)])
def test_udp_error_kinds_are_datagram_words(code: int | None, kind: ErrorKind) -> None:
    assert error_kind_for_errno(code, udp=True) is kind


def test_udp_report_lists_datagram_kinds_only() -> None:
    report = LoadReport(target="127.0.0.1:1", proto="udp", clients=1, size=10, rate=None, elapsed=1.0,
                        requests=0, bytes_sent=10, bytes_received=0, connections=1,
                        latency=LatencySummary.of([]), errors={ErrorKind.NO_ANSWER: 1})
    assert load_record(report)["errors"] == {"port-unreachable": 0, "no-answer": 1, "mismatch": 0,
                                            "unreachable": 0, "other": 0}


def test_no_latency_is_measured_without_a_successful_request() -> None:
    assert LatencySummary.of([]).as_ms() == dict.fromkeys(("p50", "p90", "p99", "max", "mean"))


@pytest.mark.parametrize(("sent", "got", "words"), [
    (b"x" * 64, b"accepted\n", "the server answered 'accepted\\n' (9 bytes) to a 64-byte request"),
    (b"x" * 64, b"\x1b[2J" + b"y" * 40, "the server answered '\\x1b[2J" + "y" * 28 + "...' (44 bytes)"),
    (b"abcdef", b"abXdef", "echo differs from what was sent at byte 2"),
    (b"x" * 2000, b"x" * 1024, "the echo came back cut to 1024 of 2000 bytes"),
])
def test_mismatch_names_what_came_back(sent: bytes, got: bytes, words: str) -> None:
    assert words in mismatch_detail(sent, got)


def test_report_record_has_every_kind_and_rates() -> None:
    errors = merge_error_counts([{ErrorKind.RESET: 1}, {ErrorKind.RESET: 2, ErrorKind.MISMATCH: 1}, {}])
    report = LoadReport(target="127.0.0.1:1", proto="tcp", clients=2, size=10, rate=None, elapsed=2.0,
                        requests=100, bytes_sent=1000, bytes_received=1000, connections=2,
                        latency=LatencySummary.of([0.001] * 100), errors=errors, first_error="reset: x")
    record = load_record(report)
    assert record["requests_per_s"] == 50.0
    assert record["mb_per_s"] == 0.001
    assert record["errors"] == {"refused": 0, "reset": 3, "timeout": 0, "mismatch": 1, "closed": 0,
                                "unreachable": 0, "other": 0}
    assert record["error_count"] == 4
    assert record["latency_ms"]["p50"] == 1.0


def _run(errors: dict[ErrorKind, int], served: int, clients: int = 3) -> LoadReport:
    return LoadReport(target="127.0.0.1:1", proto="tcp", clients=clients, size=10, rate=None, elapsed=1.0,
                      requests=10, bytes_sent=100, bytes_received=100, connections=3,
                      latency=LatencySummary.of([0.001] * 10), errors=errors, served_clients=served)


def test_one_served_client_and_others_refused_is_a_one_client_server() -> None:
    report = _run({ErrorKind.REFUSED: 4, ErrorKind.TIMEOUT: 2}, served=1)
    assert report.one_client_at_a_time
    assert "accepted one connection, then refused: it serves one client at a time" in \
        report.one_client_sentence()
    assert load_record(report)["one_client_at_a_time"] is True


def test_waiting_clients_without_refusals_are_described_as_waiting() -> None:
    report = _run({ErrorKind.TIMEOUT: 2}, served=1)
    assert report.one_client_at_a_time
    assert "waited unanswered in its accept queue" in report.one_client_sentence()


@pytest.mark.parametrize(("errors", "served", "clients"), [
    ({ErrorKind.REFUSED: 4}, 2, 3),  # two clients were served: not one at a time
    ({ErrorKind.MISMATCH: 1}, 1, 3),  # a wrong echo is a broken server, whatever else
    ({}, 1, 3),  # nothing failed
    ({ErrorKind.REFUSED: 1}, 1, 1),  # one client asked, one served
])
def test_other_runs_are_not_called_one_client(errors: dict[ErrorKind, int], served: int,
                                              clients: int) -> None:
    assert not _run(errors, served, clients).one_client_at_a_time
