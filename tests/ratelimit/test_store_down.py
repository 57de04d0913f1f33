"""When the shared store is unreachable: fail closed (batch waits and retries, interactive gets
a clear error) or, when configured, fall back to a per-process share of the limits."""

from __future__ import annotations

import random

import pytest

from backbeat.clock import FakeClock
from backbeat.ratelimit import Limiter, LimiterUnavailable, Policy, Priority, Rate
from backbeat.ratelimit.backends.base import Acquire, Decision, Outcome
from backbeat.ratelimit.backends.memory import MemoryBackend
from backbeat.ratelimit.metrics import AppMetrics

APP = "spotify:down"
RULES = Policy(app=APP, classes={"read": (Rate(40, 30),)}, reserve_share=0.0, pace=False)


class Unreachable:
    """A store that answers like a Redis server that went away, until `up` is set."""

    def __init__(self, clock: FakeClock) -> None:
        self.inner = MemoryBackend(clock)
        self.up = False
        self.attempts = 0

    async def acquire(self, request: Acquire) -> Decision:
        self.attempts += 1
        if not self.up:
            raise ConnectionError("Connection refused")
        return await self.inner.acquire(request)

    async def finish(self, policy: Policy, outcome: Outcome) -> None:
        if not self.up:
            raise ConnectionError("Connection refused")
        await self.inner.finish(policy, outcome)

    async def snapshot(self, policy: Policy) -> AppMetrics:
        return await self.inner.snapshot(policy)

    def forget(self, app: str) -> None:
        self.inner.forget(app)

    async def close(self) -> None:
        await self.inner.close()


async def test_fails_closed_interactive_gets_a_clear_error() -> None:
    clock = FakeClock()
    store = Unreachable(clock)
    limiter = Limiter(store, {APP: RULES}, clock)
    with pytest.raises(LimiterUnavailable, match="unreachable"):
        await limiter.acquire(APP, priority=Priority.HIGH, max_wait=1.0)
    assert store.attempts == 5  # at 0, 0.25, 0.5, 0.75 and 1 s


async def test_fails_closed_batch_waits_until_the_store_is_back() -> None:
    class RestartAfterTenSeconds(FakeClock):
        async def sleep(self, seconds: float) -> None:
            await super().sleep(seconds)
            store.up = self.time() - start > 10

    clock = RestartAfterTenSeconds()
    store, start = Unreachable(clock), clock.time()
    limiter = Limiter(store, {APP: RULES}, clock)
    grant = await limiter.acquire(APP, priority=Priority.NORMAL)
    assert not grant.local
    assert 10 < grant.waited < 11


async def test_falls_back_to_a_per_process_share() -> None:
    clock = FakeClock()
    store = Unreachable(clock)
    limiter = Limiter(store, {APP: RULES}, clock, rng=random.Random(0),
                      fallback=MemoryBackend(clock), expected_processes=4)  # fmt: skip
    grants = [await limiter.acquire(APP, max_wait=0) for _ in range(10)]
    assert all(g.local for g in grants)
    with pytest.raises(Exception, match="no slot"):
        await limiter.acquire(APP, max_wait=0)  # 40 ÷ 4 processes = 10 per window here
    await limiter.report(grants[0], "rate_limited", retry_after=3)  # goes to the fallback
    assert (await limiter.fallback.snapshot(RULES.divided(4))).pause_remaining == 3  # type: ignore[union-attr]
