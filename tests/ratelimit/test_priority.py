"""With NORMAL traffic saturating the budget, HIGH calls are granted within one expiry, and a
pure batch load still uses ≥ 97 % of the budget (memory backend, virtual time)."""

from __future__ import annotations

import random

from backbeat.ratelimit import Limiter, Policy, Priority, Rate
from backbeat.ratelimit.backends.memory import MemoryBackend
from tests.ratelimit.virtual_time import VirtualClock

APP = "spotify:prio"
RULES = Policy(app=APP, classes={"read": (Rate(50, 2.0),)})


async def _batch_worker(limiter: Limiter, grants: list[float]) -> None:
    while True:
        grant = await limiter.acquire(APP, priority=Priority.NORMAL, max_wait=1e9)
        grants.append(grant.granted_at)


async def test_high_calls_get_a_slot_within_one_expiry_under_saturation() -> None:
    clock = VirtualClock()
    limiter = Limiter(MemoryBackend(clock), {APP: RULES}, clock, rng=random.Random(3))
    normal: list[float] = []
    high_waits: list[float] = []

    async def interactive() -> None:
        rng = random.Random(4)
        await clock.sleep(3.0)  # arrive once the batch has saturated the window
        for _ in range(30):
            await clock.sleep(rng.uniform(0.1, 0.6))
            grant = await limiter.acquire(APP, priority=Priority.HIGH, max_wait=5)
            high_waits.append(grant.waited)

    workers = [_batch_worker(limiter, normal) for _ in range(16)]
    await clock.run(interactive(), *workers, until=20.0)

    assert len(high_waits) == 30
    # The reserve follows observed demand: until HIGH calls have been seen for one period it is
    # a single slot, so an early one may wait for the next expiry (at most one period) ...
    assert max(high_waits[:4]) <= RULES.longest_period
    # ... and from then on interactive calls find a slot within one expiry (the spacing of a
    # saturated window's grants, period / limit), nearly always at once.
    assert max(high_waits[4:]) <= RULES.longest_period / 50
    assert high_waits[4:].count(0.0) >= 24


async def test_pure_batch_load_uses_at_least_97_percent_of_the_budget() -> None:
    clock = VirtualClock()
    limiter = Limiter(MemoryBackend(clock), {APP: RULES}, clock, rng=random.Random(5))
    grants: list[float] = []
    start = clock.time()
    await clock.run(*[_batch_worker(limiter, grants) for _ in range(32)], until=10.0)
    in_run = [t for t in grants if t < start + 10.0]
    assert len(in_run) / (50 * 10.0 / 2.0) >= 0.97
