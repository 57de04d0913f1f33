"""The Redis scripts against the reference: random sequences of acquires, outcomes and clock jumps
run on memory:// and on Redis side by side must give the same decisions and metrics, to the bit."""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

from backbeat.clock import FakeClock
from backbeat.ratelimit import Policy, Priority, Rate
from backbeat.ratelimit.backends.base import Acquire, Decision, Outcome, OutcomeKind
from backbeat.ratelimit.backends.memory import MemoryBackend
from backbeat.ratelimit.backends.redis import RedisBackend
from backbeat.ratelimit.policy import Window

STEPS = 150


def random_policy(rng: random.Random) -> Policy:
    def rates() -> tuple[Rate, ...]:
        count = rng.choice((1, 1, 2))
        return tuple(Rate(rng.randint(1, 12), rng.choice((1.5, 3, 7.25, 30))) for _ in range(count))

    return Policy(
        app=f"spotify:{uuid.uuid4().hex[:6]}",
        classes={"read": rates(), "write": rates()},
        # A minimum interval may outlast every other window: the ceiling's clock ignores it.
        endpoints={"search": (Rate.min_interval(rng.choice((0.5, 2.0, 45.0))),)},
        shared=rates() if rng.random() < 0.3 else (),
        concurrency=rng.choice((None, None, 1, 3)),
        lease_ttl=rng.choice((0.3, 5.0)),
        recovery_step=rng.choice((0.1, 0.3)),
        forget_429_after=rng.choice((1, 2, 10)),
        reserve_share=rng.choice((0.0, 0.25, 0.5)),
        pace=rng.random() < 0.5,
        default_pause=rng.choice((0.5, 1.0)),
        max_default_pause=4.0,
        min_multiplier=rng.choice((0.1, 0.25)),
    )


@dataclass
class Pair:
    """One granted call, as each backend knows it (lease ids differ)."""

    granted_at: float
    leases: tuple[str | None, str | None]
    windows: tuple[Window, ...]
    slot: int | None
    cost: int


@dataclass
class Run:
    memory: MemoryBackend
    redis: RedisBackend
    rules: Policy
    rng: random.Random
    clock: FakeClock
    granted: list[Pair] = field(default_factory=list)

    async def acquire(self) -> None:
        rng, rules = self.rng, self.rules
        op = rng.choice(("read", "read", "write"))
        windows = rules.windows(op, "search" if rng.random() < 0.3 else None)
        cost = rng.choice((1, 1, 1, min(2, *(w.rate.limit for w in windows))))
        priority = rng.choice(list(Priority))
        waiter = rng.choice(("a", "b", "c", "d", "e"))
        held = rng.random() < 0.7  # most calls are reported; the others only age out
        request = Acquire(rules, windows, priority, cost, waiter, None, held)
        mine, theirs = await self.memory.acquire(request), await self.redis.acquire(request)
        assert comparable(mine) == comparable(theirs), request
        if mine.granted:
            pair = Pair(mine.now, (mine.lease, theirs.lease), windows, mine.slot, cost)
            self.granted.append(pair)

    async def finish(self) -> None:
        rng = self.rng
        if not self.granted:
            return
        pair = self.granted.pop(rng.randrange(len(self.granted)))
        kind: OutcomeKind = rng.choice(("success", "rate_limited", "rate_limited", "server_error"))
        if rng.random() < 0.03:
            kind = "quota"
        retry_after = rng.choice((None, 0.0, 0.7, 2.5, 61.0 if rng.random() < 0.1 else 3.0))
        # Some answers hold their slots until now, some are reported without them (as before).
        held = pair.windows if rng.random() < 0.8 else ()
        for backend, lease in zip((self.memory, self.redis), pair.leases, strict=True):
            outcome = Outcome(kind, pair.granted_at, retry_after, lease, held, pair.slot, pair.cost)
            await backend.finish(self.rules, outcome)

    async def compare_snapshots(self) -> None:
        mine, theirs = await self.memory.snapshot(self.rules), await self.redis.snapshot(self.rules)
        assert asdict(mine) == asdict(theirs)


def comparable(decision: Decision) -> dict[str, Any]:
    found = asdict(decision)
    found["run_id"] = None
    found["lease"] = decision.lease is not None
    return found


@pytest.mark.parametrize("seed", range(20))
async def test_redis_decides_exactly_like_memory(redis_url: str, seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock(start=1_800_000_000.0 + rng.random())
    prefix = f"bbtest:{uuid.uuid4().hex[:8]}"
    run = Run(
        MemoryBackend(clock),
        RedisBackend.from_url(redis_url, clock=clock, prefix=prefix),
        random_policy(rng),
        rng,
        clock,
    )
    try:
        for _ in range(STEPS):
            roll = rng.random()
            if roll < 0.55:
                await run.acquire()
            elif roll < 0.7:
                await run.finish()
            elif roll < 0.8:
                await run.compare_snapshots()
            elif roll < 0.97:
                clock.advance(rng.choice((0.001, 0.05, 0.3, 1.0, 2.7)))
            else:  # idle spells: the ceiling regrows, and forgets, without acquires
                clock.advance(rng.choice((7.25, 30.0, 65.0, 300.0)))
        await run.compare_snapshots()
    finally:
        async for key in run.redis.client.scan_iter(match=f"{prefix}*"):
            await run.redis.client.delete(key)
        await run.redis.close()
