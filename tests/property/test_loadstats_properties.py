"""Properties of the load statistics and payloads: percentiles are ordered samples, requests unique."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netdiag.core.loadplan import HEADER_LEN, make_payload
from netdiag.core.loadstats import LatencySummary, percentile

FAST = settings(max_examples=150, deadline=None)
samples = st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=300)


@FAST
@given(samples, st.floats(0, 1), st.floats(0, 1))
def test_percentile_is_a_sample_and_monotonic(values: list[float], a: float, b: float) -> None:
    ordered = sorted(values)
    low, high = sorted((a, b))
    assert percentile(ordered, low) in ordered
    assert percentile(ordered, low) <= percentile(ordered, high)


@FAST
@given(samples)
def test_summary_is_ordered_and_independent_of_sample_order(values: list[float]) -> None:
    summary = LatencySummary.of(values)
    assert summary.p50 <= summary.p90 <= summary.p99 <= summary.max == max(values)
    assert LatencySummary.of(reversed(values)) == summary
    assert min(values) <= summary.mean <= max(values) + 1e-9


@FAST
@given(st.integers(0, 99_999), st.integers(0, 9_999_999), st.integers(0, 9_999_999),
       st.integers(HEADER_LEN + 1, 5000))
def test_requests_are_unique_per_sequence(client: int, seq_a: int, seq_b: int, size: int) -> None:
    a, b = make_payload(client, seq_a, size), make_payload(client, seq_b, size)
    assert len(a) == len(b) == size
    assert (a == b) == (seq_a == seq_b)
