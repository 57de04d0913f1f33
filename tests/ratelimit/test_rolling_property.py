"""Hypothesis: whatever the arrivals, costs and priorities, no rolling window ever holds more
grants than its limit — checked against the recorded grant times, on every backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backbeat.bench.stats import max_in_window
from backbeat.clock import FakeClock
from backbeat.ratelimit import Backend, Policy, Priority, Rate
from backbeat.ratelimit.backends.base import Acquire
from backbeat.ratelimit.backends.memory import MemoryBackend
from backbeat.ratelimit.backends.redis import RedisBackend

RULES = Policy(
    app="spotify:prop",
    classes={"read": (Rate(7, 3.0),), "write": (Rate(3, 2.0),)},
    endpoints={"search": (Rate(2, 1.5),)},
    shared=(Rate(9, 4.0),),
)
arrival = st.tuples(
    st.floats(min_value=0, max_value=0.8),  # time since the previous attempt
    st.sampled_from(["read", "write"]),
    st.sampled_from([None, "search"]),
    st.sampled_from(list(Priority)),
    st.integers(min_value=1, max_value=2),  # cost
)


async def _run(backend: Backend, clock: FakeClock, arrivals: list[tuple]) -> dict[str, list[float]]:  # type: ignore[type-arg]
    granted: dict[str, list[float]] = {}
    for index, (gap, op_class, endpoint, priority, cost) in enumerate(arrivals):
        clock.advance(gap)
        windows = RULES.windows(op_class, endpoint)
        decision = await backend.acquire(Acquire(RULES, windows, priority, cost, f"w{index}", None))
        if decision.granted:
            for window in windows:
                granted.setdefault(window.key, []).extend([decision.now] * cost)
    return granted


def _check(granted: dict[str, list[float]]) -> None:
    limits = {w.key: w.rate for w in RULES.windows_of_all()}
    for key, times in granted.items():
        assert max_in_window(times, limits[key].period) <= limits[key].limit, key


def _property(make: Callable[[FakeClock], Backend]) -> Callable[[list[tuple]], None]:  # type: ignore[type-arg]
    def check(arrivals: list[tuple]) -> None:  # type: ignore[type-arg]
        clock = FakeClock()
        backend = make(clock)

        async def go() -> dict[str, list[float]]:
            try:
                return await _run(backend, clock, arrivals)
            finally:
                await backend.close()

        _check(asyncio.run(go()))

    return check


@settings(max_examples=150, deadline=None)
@given(st.lists(arrival, min_size=1, max_size=80))
def test_memory_never_exceeds_any_window(arrivals: list[tuple]) -> None:  # type: ignore[type-arg]
    _property(MemoryBackend)(arrivals)


class _Cleaning:
    """The Redis backend, deleting its keys when closed (a store per example)."""

    def __init__(self, inner: RedisBackend, prefix: str) -> None:
        self.inner, self.prefix = inner, prefix
        self.acquire, self.finish, self.snapshot = inner.acquire, inner.finish, inner.snapshot

    async def close(self) -> None:
        async for key in self.inner.client.scan_iter(match=f"{self.prefix}*"):
            await self.inner.client.delete(key)
        await self.inner.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(arrival, min_size=1, max_size=80))
def test_redis_never_exceeds_any_window(redis_url: str, arrivals: list[tuple]) -> None:  # type: ignore[type-arg]
    def make(clock: FakeClock) -> Backend:
        prefix = f"bbprop:{uuid.uuid4().hex[:10]}"  # a fresh store per example
        return _Cleaning(RedisBackend.from_url(redis_url, clock=clock, prefix=prefix), prefix)

    _property(make)(arrivals)


def test_the_checker_itself_sees_an_overfull_window() -> None:
    assert max_in_window([0.0, 1.0, 2.9, 3.0], 3.0) == 3
    with pytest.raises(AssertionError):
        _check({"c:read:0": [0.0] * 8})
