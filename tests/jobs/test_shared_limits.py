"""The user-processing limit in Redis: two limiters on one key stand for two worker processes.

Time is a `SteppedClock`: a FakeClock whose `sleep` waits until the test moves it, so a waiter
polling a full limit does not run the clock on by itself. The tests wait for Redis round trips
with `eventually` (event-loop yields, bounded by a real deadline), never with real sleeps.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from backbeat.clock import FakeClock
from backbeat.jobs.limits import UserSlots
from backbeat.jobs.shared_limits import RedisUserLimiter

pytestmark = pytest.mark.services

LEASE = 60.0


class SteppedClock(FakeClock):
    """`sleep` returns once the clock was advanced past its end."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    @property
    def alarms(self) -> list[float]:
        """When the pending sleeps end, earliest first."""
        return sorted(until for until, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        entry = (self.time() + seconds, future)
        self._sleepers.append(entry)
        try:
            await future
        finally:
            self._sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        for until, future in self._sleepers:
            if until <= self.time() and not future.done():
                future.set_result(None)


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(start=1_800_000_000.0)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """The test's own view of Redis (and the cleanup of its keys)."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def key(client: aioredis.Redis) -> AsyncIterator[str]:
    key = f"bbtest:{uuid.uuid4().hex[:12]}:users"
    yield key
    found = [k async for k in client.scan_iter(match=f"{{{key}}}:*")]
    if found:
        await client.delete(*found)


Make = Callable[..., RedisUserLimiter]


@pytest.fixture
async def make(redis_url: str, key: str, clock: SteppedClock) -> AsyncIterator[Make]:
    """Limiters on `key`, each with a client of its own: one per 'process'."""
    made: list[RedisUserLimiter] = []

    def make(max_users: int = 1, inter_user_delay: float = 0.0) -> RedisUserLimiter:
        limiter = RedisUserLimiter.from_url(
            redis_url, key, max_users, inter_user_delay, lease_ttl=LEASE, poll=0.5, clock=clock
        )
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.close()


async def holders(client: aioredis.Redis, key: str) -> dict[str, str]:
    return await client.hgetall(f"{{{key}}}:holders")  # type: ignore[no-any-return, misc]


async def leases(client: aioredis.Redis, key: str) -> dict[str, float]:
    return dict(await client.zrange(f"{{{key}}}:leases", 0, -1, withscores=True))


class Jobs:
    """Jobs holding slots until released; records when each body started (since t0)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.t0 = clock.time()
        self.starts: dict[str, float] = {}
        self._release: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, limiter: UserSlots, user: str) -> asyncio.Task[None]:
        release = self._release[name] = asyncio.Event()

        async def job() -> None:
            async with limiter.slot(user):
                self.starts[name] = self.clock.time() - self.t0
                await release.wait()

        task = self._tasks[name] = asyncio.create_task(job())
        return task

    async def finish(self, name: str) -> None:
        self._release[name].set()
        await self._tasks[name]

    def running(self, name: str) -> Callable[[], bool]:
        return lambda: name in self.starts

    async def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


@pytest.fixture
async def jobs(make: Make, clock: SteppedClock) -> AsyncIterator[Jobs]:
    """Cancels what a failed test left running, before its limiters close (`make`)."""
    jobs = Jobs(clock)
    yield jobs
    await jobs.cancel_all()


async def test_max_users_and_the_delay_hold_across_processes(
    make: Make,
    jobs: Jobs,
    clock: SteppedClock,
    client: aioredis.Redis,
    key: str,
) -> None:
    one, two = make(max_users=2, inter_user_delay=5.0), make(max_users=2, inter_user_delay=5.0)
    t0 = jobs.t0
    jobs.start("a", one, "a")
    await eventually(jobs.running("a"))
    jobs.start("b", two, "b")  # admitted by the other process: starts after the delay
    await eventually(lambda: clock.alarms == [t0 + 5.0])
    jobs.start("c", one, "c")  # two users in: c polls
    await eventually(lambda: clock.alarms == [t0 + 0.5, t0 + 5.0])
    assert jobs.starts == {"a": 0.0}

    clock.advance(5.0)
    await eventually(jobs.running("b"))
    await eventually(lambda: clock.alarms == [t0 + 5.5])  # c polled again: still full
    assert sorted(await holders(client, key)) == ["a", "b"]
    await jobs.finish("a")
    assert one.held_users == 0

    clock.advance(0.5)  # c's next poll finds a free place, then waits 5 s after b's start
    await eventually(lambda: clock.alarms == [t0 + 10.0])
    clock.advance(4.5)
    await eventually(jobs.running("c"))
    assert jobs.starts == {"a": 0.0, "b": 5.0, "c": 10.0}
    await jobs.finish("b")
    await jobs.finish("c")
    assert await holders(client, key) == {}
    assert await leases(client, key) == {}


async def test_a_users_jobs_share_its_place_across_processes(
    make: Make,
    jobs: Jobs,
    clock: SteppedClock,
    client: aioredis.Redis,
    key: str,
) -> None:
    one, two = make(max_users=2, inter_user_delay=5.0), make(max_users=2, inter_user_delay=5.0)
    t0 = jobs.t0
    jobs.start("a1", one, "a")
    await eventually(jobs.running("a1"))
    jobs.start("b1", one, "b")
    await eventually(lambda: clock.alarms == [t0 + 5.0])
    jobs.start("a2", two, "a")  # joins at once
    jobs.start("b2", two, "b")  # joins, and waits for b's start like b1
    await eventually(jobs.running("a2"))
    await eventually(lambda: clock.alarms == [t0 + 5.0, t0 + 5.0])
    assert await holders(client, key) == {"a": "2", "b": "2"}

    jobs.start("c", two, "c")  # a and b fill both places, whatever their job count
    await eventually(lambda: clock.alarms == [t0 + 0.5, t0 + 5.0, t0 + 5.0])
    clock.advance(5.0)
    await eventually(lambda: "b1" in jobs.starts and "b2" in jobs.starts)
    assert jobs.starts == {"a1": 0.0, "a2": 0.0, "b1": 5.0, "b2": 5.0}

    await jobs.finish("a1")  # a still runs on the other process
    assert await holders(client, key) == {"a": "1", "b": "2"}
    await eventually(lambda: clock.alarms == [t0 + 5.5])
    clock.advance(0.5)
    await eventually(lambda: clock.alarms == [t0 + 6.0])  # still full
    await jobs.finish("a2")
    clock.advance(0.5)
    await eventually(lambda: clock.alarms == [t0 + 10.0])  # in; waits 5 s after b's start
    clock.advance(4.0)
    await eventually(jobs.running("c"))
    assert jobs.starts["c"] == 10.0
    for name in ("b1", "b2", "c"):
        await jobs.finish(name)
    assert await holders(client, key) == {}


async def test_a_killed_workers_user_frees_its_place_after_one_lease(
    make: Make,
    jobs: Jobs,
    clock: SteppedClock,
    client: aioredis.Redis,
    key: str,
) -> None:
    dead, alive = make(), make()
    t0 = jobs.t0
    # The dead worker's renewal runs every LEASE / 3 real seconds: never within this test,
    # as if its process were gone.
    jobs.start("a", dead, "a")
    await eventually(jobs.running("a"))
    jobs.start("b", alive, "b")
    await eventually(lambda: clock.alarms == [t0 + 0.5])
    clock.advance(LEASE - 1.0)  # the lease ends at t0 + 60: still held
    await eventually(lambda: clock.alarms == [t0 + LEASE - 0.5])
    assert "b" not in jobs.starts
    clock.advance(1.0)
    await eventually(jobs.running("b"))
    assert jobs.starts["b"] == LEASE
    assert await holders(client, key) == {"b": "1"}

    await jobs.finish("a")  # a late leave of a purged user changes nothing
    assert await holders(client, key) == {"b": "1"}
    await jobs.finish("b")
    assert await holders(client, key) == {}


async def test_renewing_keeps_the_lease_and_takes_a_lost_one_again(
    make: Make,
    jobs: Jobs,
    clock: SteppedClock,
    client: aioredis.Redis,
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    one, two = make(), make()
    t0 = jobs.t0
    jobs.start("a", one, "a")
    await eventually(jobs.running("a"))
    clock.advance(50.0)
    await one.renew()
    assert await leases(client, key) == {"a": t0 + 50.0 + LEASE}
    jobs.start("b", two, "b")
    clock.advance(50.0)  # 100 s after a's admission, 50 after its renewal
    await eventually(lambda: clock.alarms == [t0 + 100.5])
    clock.advance(10.5)  # the renewed lease ran out at t0 + 110
    await eventually(jobs.running("b"))
    assert await holders(client, key) == {"b": "1"}

    with caplog.at_level(logging.WARNING, logger="backbeat.jobs.shared_limits"):
        await one.renew()  # a still runs here: it counts again, even past max_users
    assert "the lease of a had expired" in caplog.text
    assert await holders(client, key) == {"a": "1", "b": "1"}
    ttls = [await client.pttl(f"{{{key}}}:{name}") for name in ("leases", "holders")]
    assert all(86_000_000 < ttl <= 86_400_000 for ttl in ttls)  # gone a day after use
    await jobs.finish("a")
    await jobs.finish("b")
    assert await holders(client, key) == {}


async def test_the_renewal_task_runs_while_a_place_is_held(
    redis_url: str, key: str, clock: SteppedClock, client: aioredis.Redis
) -> None:
    # A lease of 30 ms renews every 10 real ms; expiries read the fake clock.
    limiter = RedisUserLimiter(client, key, 1, 0.0, lease_ttl=0.03, clock=clock)
    try:
        async with limiter.slot("a"):
            clock.advance(100.0)

            async def renewed() -> bool:
                return await leases(client, key) == {"a": clock.time() + 0.03}

            await eventually(renewed)
        assert await leases(client, key) == {}
    finally:
        await limiter.close()


async def test_the_body_raising_releases_the_place(
    make: Make,
    clock: SteppedClock,
    client: aioredis.Redis,
    key: str,
) -> None:
    one, two = make(), make()
    with pytest.raises(ValueError, match="boom"):
        async with one.slot("a"):
            raise ValueError("boom")
    assert one.held_users == 0
    assert await holders(client, key) == {}
    async with two.slot("b"):  # the place is free at once
        assert await holders(client, key) == {"b": "1"}


@pytest.mark.parametrize("free", [True, False], ids=["free", "full"])
async def test_cancelling_at_any_point_leaks_nothing(
    make: Make,
    jobs: Jobs,
    clock: SteppedClock,
    client: aioredis.Redis,
    key: str,
    free: bool,
) -> None:
    """Cancelled before, during or after its admission (in flight, polling, waiting for the
    delay): the waiter leaves no trace in Redis."""
    two = make(inter_user_delay=5.0)
    if free:
        async with two.slot("first"):  # from now on, each new user waits for the delay
            pass
    else:
        jobs.start("held", two, "held")
        await eventually(jobs.running("held"))
    expected = {} if free else {"held": "1"}
    for yields in range(40):
        one = make(inter_user_delay=5.0)

        async def wait(limiter: RedisUserLimiter) -> None:
            async with limiter.slot("b"):
                raise AssertionError("never entered: the delay or a full limit")

        task = asyncio.create_task(wait(one))
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await one.close()  # lets a give-back or leave in flight finish

        async def clean() -> bool:
            return await holders(client, key) == expected

        await eventually(clean)
        assert one.held_users == 0
    await jobs.cancel_all()
    assert await holders(client, key) == {}
