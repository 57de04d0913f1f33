"""How long the calls made on behalf of one inbound request waited for upstream budget.

The API opens a `measure()` per request; every limiter grant inside it adds its wait. The total
goes out as `Server-Timing: limiter;dur=…`, so a client (and the benchmarks, which rescale a
time-scaled wait to real time) can tell waiting for budget from doing the work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_waits: ContextVar[list[float] | None] = ContextVar("backbeat_limiter_waits", default=None)


@contextmanager
def measure() -> Iterator[list[float]]:
    """The grant waits (seconds) of every upstream call made inside the block."""
    waits: list[float] = []
    token = _waits.set(waits)
    try:
        yield waits
    finally:
        _waits.reset(token)


def record(waited: float) -> None:
    waits = _waits.get()
    if waits is not None:
        waits.append(max(0.0, waited))
