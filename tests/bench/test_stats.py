"""The bench's figures: nearest-rank percentiles and the exact busiest rolling window."""

from __future__ import annotations

from backbeat.bench.stats import max_in_window, percentile


def test_percentile_is_a_measured_value() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_a_window_is_open_on_the_left() -> None:
    # (t - 2, t]: a grant exactly 2 s earlier has left the window.
    assert max_in_window([100.0, 102.0], 2.0) == 1
    assert max_in_window([100.0, 101.999999], 2.0) == 2


def test_boundaries_hold_in_microseconds_despite_float_error() -> None:
    # 1_800_000_002.000001 - 2.0 is not exactly 1_800_000_000.000001 in floats.
    assert max_in_window([1_800_000_000.000001, 1_800_000_002.000001], 2.0) == 1


def test_the_busiest_window_counts_equal_times() -> None:
    times = [0.5, 1.0, 1.0, 1.0, 2.4, 2.6, 5.0]
    assert max_in_window(times, 2.0) == 5  # (0.4, 2.4]
    assert max_in_window([], 2.0) == 0
