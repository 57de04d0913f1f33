"""Two libraries as baselines, on the same Redis with the same processes and coroutines: the
`limits` moving window (coredis) and PyrateLimiter's Redis bucket (redis-py). Each coroutine
asks in a loop; a refused one sleeps the wait its library reports, with backbeat's NORMAL jitter
— what a user of that library would write, and the rhythm of backbeat's own waiters, so Redis
sees a like load. Only the deciding call is timed, one round trip as for backbeat.

Both libraries are dev dependencies: they are imported inside the workers, so the `backbeat`
command works without them."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Literal

import redis.asyncio as aioredis

from backbeat.bench.harness import Link, drop_keys, run_workers, sleep_until, store_offset
from backbeat.ratelimit import Priority
from backbeat.ratelimit.limiter import JITTER

BaselineKind = Literal["limits", "pyrate"]
BASELINES: tuple[BaselineKind, ...] = ("limits", "pyrate")


@dataclass(frozen=True, slots=True)
class BaselineJob:
    index: int
    kind: BaselineKind
    redis_url: str
    prefix: str
    limit: int
    window: int  # whole seconds: the unit of limits' windows
    coroutines: int
    seconds: float


@dataclass(slots=True)
class BaselineLoad:
    index: int
    round_trips: list[float] = field(default_factory=list)  # seconds per deciding call
    grants: int = 0
    errors: list[str] = field(default_factory=list)


def run_baseline(
    kind: BaselineKind,
    redis_url: str,
    *,
    processes: int,
    coroutines: int,
    seconds: float,
    limit: int,
    window: int,
) -> list[BaselineLoad]:
    prefix = f"bb:bench:{kind}:{uuid.uuid4().hex[:10]}"
    jobs = [
        BaselineJob(i, kind, redis_url, prefix, limit, window, coroutines, seconds)
        for i in range(processes)
    ]
    try:
        _, loads = run_workers(
            baseline_worker, jobs, BaselineLoad, redis_url=redis_url, seconds=seconds
        )
    finally:
        drop_keys(redis_url, prefix)
    return loads


def baseline_worker(job: BaselineJob, link: Link) -> None:
    work = _limits if job.kind == "limits" else _pyrate
    link.send(asyncio.run(work(job, link)))


Decide = Callable[[], Awaitable[bool]]
WaitFor = Callable[[], Awaitable[float]]  # seconds until a refused call may pass


async def _limits(job: BaselineJob, link: Link) -> BaselineLoad:
    from limits import RateLimitItemPerSecond
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    storage = RedisStorage(f"async+{job.redis_url}", key_prefix=job.prefix)
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(job.limit, job.window)
    # Connections and scripts ready before the clock starts (another key: no slot taken).
    await asyncio.gather(*(storage.check() for _ in range(job.coroutines)))
    await limiter.hit(RateLimitItemPerSecond(1000, 1), "warm")

    async def decide() -> bool:
        return await limiter.hit(item, "bench")

    async def wait_for() -> float:
        stats = await limiter.get_window_stats(item, "bench")  # a second, untimed round trip
        return stats.reset_time - time.time()

    return await _drive(job, link, decide, wait_for)


async def _pyrate(job: BaselineJob, link: Link) -> BaselineLoad:
    from pyrate_limiter import Limiter, Rate, RateItem, RedisBucket

    client = aioredis.Redis.from_url(job.redis_url)
    bucket = await RedisBucket.init([Rate(job.limit, job.window * 1000)], client, job.prefix)
    limiter = Limiter(bucket)  # must be made inside the loop: it starts an asyncio leak task
    await asyncio.gather(*(client.ping() for _ in range(job.coroutines)))

    async def decide() -> bool:
        result = limiter.try_acquire("bench", blocking=False)  # the bucket's Lua, no lock
        return await result if isawaitable(result) else result

    async def wait_for() -> float:
        # The bucket recorded the wait of the refused put: no round trip.
        delay = bucket.waiting(RateItem("bench", bucket.now()))
        return float(await delay if isawaitable(delay) else delay) / 1000

    try:
        return await _drive(job, link, decide, wait_for)
    finally:
        limiter.close()
        await client.aclose()


async def _drive(job: BaselineJob, link: Link, decide: Decide, wait_for: WaitFor) -> BaselineLoad:
    async with aioredis.Redis.from_url(job.redis_url) as client:
        offset = await store_offset(client)
    load = BaselineLoad(job.index)
    start = await link.ready()
    await sleep_until(start, offset)
    end = start + job.seconds - offset
    jitter = JITTER[Priority.NORMAL]

    async def caller() -> None:
        rng = random.Random()
        while time.time() < end:
            began = time.perf_counter()
            try:
                granted = await decide()
            except Exception as error:  # a baseline's failure is reported, not fatal
                load.errors.append(repr(error))
                return
            load.round_trips.append(time.perf_counter() - began)
            if granted:
                load.grants += 1
                continue
            pause = max(0.0, await wait_for()) * (1 + rng.random() * jitter)
            if time.time() + pause >= end:
                return
            await asyncio.sleep(pause)

    await asyncio.gather(*(caller() for _ in range(job.coroutines)))
    return load
