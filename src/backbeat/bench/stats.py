"""Figures over what the workers recorded: percentiles and the busiest rolling window."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

MICROS = 1_000_000


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank (a value that was measured, never an interpolation); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(value: float | None) -> float | None:
    """Seconds → milliseconds, rounded for reports."""
    return None if value is None else round(value * 1000, 3)


def max_in_window(times: Iterable[float], window: float) -> int:
    """The most grants in any rolling window (t - window, t], exactly, over every grant time.

    Times are compared in whole microseconds (Redis TIME's resolution): in floats, t - window
    could land a hair beside an earlier grant that the store saw exactly on the boundary."""
    ticks = sorted(round(t * MICROS) for t in times)
    span = round(window * MICROS)
    best, low = 0, 0
    for high, tick in enumerate(ticks):
        while ticks[low] <= tick - span:
            low += 1
        best = max(best, high - low + 1)
    return best
