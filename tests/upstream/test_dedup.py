"""Dedup in one process (with and without Redis) and across two simulated processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from backbeat.clock import FakeClock
from backbeat.simulator.server import free_port
from backbeat.upstream.dedup import Dedup
from backbeat.upstream.metrics import UpstreamMetrics
from tests.upstream.conftest import wipe

POLL = 0.01
Produce = Callable[[], Awaitable[Any]]


class Upstream:
    """A fake upstream call: counts calls, and answers only once `gate` opens."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer, self.error = answer, error
        self.calls = 0
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def __call__(self) -> Any:
        self.calls += 1
        self.started.set()
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.answer


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until `condition` holds; within 5 s, or the test fails (never hangs)."""
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the awaited condition never held")


@pytest.fixture
async def clients(redis_url: str, prefix: str) -> AsyncIterator[list[aioredis.Redis]]:
    """One client per simulated process."""
    made = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    yield made
    for client in made:
        await client.aclose()
    await wipe(redis_url, prefix)


@pytest.fixture(params=["memory", "redis"])
async def dedup(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Dedup]:
    if request.param == "memory":
        yield Dedup()
        return
    url: str = request.getfixturevalue("redis_url")
    client = aioredis.Redis.from_url(url)
    yield Dedup(client, prefix=prefix, poll_interval=POLL)
    await client.aclose()
    await wipe(url, prefix)


def watch_polls(monkeypatch: pytest.MonkeyPatch, client: aioredis.Redis) -> asyncio.Event:
    """Set once `client` polls for a result (MGET): its process is following a leader."""
    polling = asyncio.Event()
    mget = client.mget

    async def spy(*args: Any, **options: Any) -> Any:
        polling.set()
        return await mget(*args, **options)

    monkeypatch.setattr(client, "mget", spy)
    return polling


async def test_100_identical_calls_make_one_upstream_call(dedup: Dedup) -> None:
    upstream = Upstream({"id": "t1", "artists": [1, 2]})
    calls = [asyncio.create_task(dedup.run("k", upstream)) for _ in range(100)]
    await until(lambda: dedup.local_followers == 99 and upstream.started.is_set())
    upstream.gate.set()
    results = await asyncio.gather(*calls)
    assert upstream.calls == 1
    assert results == [{"id": "t1", "artists": [1, 2]}] * 100
    assert (dedup.leaders, dedup.local_followers, dedup.remote_followers) == (1, 99, 0)
    assert dedup.in_flight == 0
    assert await dedup.run("k", done(upstream)) == {"id": "t1", "artists": [1, 2]}
    assert upstream.calls == 2  # dedup joins calls in flight, it caches nothing


def done(upstream: Upstream) -> Produce:
    upstream.gate.set()
    return upstream


async def test_another_key_proceeds_while_a_leader_is_slow(dedup: Dedup) -> None:
    slow, quick = Upstream("slow"), Upstream("quick")
    quick.gate.set()
    stuck = [asyncio.create_task(dedup.run("slow", slow)) for _ in range(3)]
    await until(slow.started.is_set)
    assert await asyncio.wait_for(dedup.run("quick", quick), timeout=5) == "quick"
    assert not any(task.done() for task in stuck)  # still waiting: quick did not queue behind
    slow.gate.set()
    assert await asyncio.gather(*stuck) == ["slow"] * 3


async def test_the_leaders_error_reaches_every_local_waiter(dedup: Dedup) -> None:
    error = RuntimeError("upstream said no")
    upstream = Upstream(error=error)
    calls = [asyncio.create_task(dedup.run("k", upstream)) for _ in range(10)]
    await until(lambda: dedup.local_followers == 9 and upstream.started.is_set())
    upstream.gate.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert outcomes == [error] * 10
    assert upstream.calls == 1
    assert dedup.in_flight == 0
    retry = Upstream("ok")
    assert await dedup.run("k", done(retry)) == "ok"  # the failure is not remembered
    if dedup.redis is not None:
        assert await dedup.redis.exists(f"{dedup.prefix}:lock:{{k}}") == 0


async def test_a_waiter_that_gives_up_does_not_cancel_the_call(dedup: Dedup) -> None:
    upstream = Upstream("answer")
    first = asyncio.create_task(dedup.run("k", upstream))
    await until(upstream.started.is_set)
    second = asyncio.create_task(dedup.run("k", upstream))
    await until(lambda: dedup.local_followers == 1)
    first.cancel()
    await until(first.done)
    upstream.gate.set()
    assert await second == "answer"
    assert first.cancelled()
    assert upstream.calls == 1


async def test_two_processes_share_one_upstream_call(
    clients: list[aioredis.Redis], prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = (Dedup(client, prefix=prefix, poll_interval=POLL) for client in clients)
    polling = [watch_polls(monkeypatch, client) for client in clients]
    upstream = Upstream({"tracks": [{"id": "a"}, None]})
    calls = [asyncio.create_task(d.run("shared", upstream)) for _ in range(50) for d in (one, two)]
    await until(lambda: upstream.started.is_set() and any(p.is_set() for p in polling))
    upstream.gate.set()
    results = await asyncio.gather(*calls)
    assert upstream.calls == 1
    assert results == [{"tracks": [{"id": "a"}, None]}] * 100
    assert one.leaders + two.leaders == 1
    assert one.remote_followers + two.remote_followers == 1
    assert one.local_followers == two.local_followers == 49
    # The same counts as each process exports them.
    exported = [_dedup_calls(UpstreamMetrics(dedup=d)) for d in (one, two)]
    assert sorted(exported, key=lambda roles: roles["leader"]) == [
        {"leader": 0, "process": 49, "other_process": 1},
        {"leader": 1, "process": 49, "other_process": 0},
    ]


def _dedup_calls(metrics: UpstreamMetrics) -> dict[str, float]:
    found = {}
    for family in metrics.registry.collect():
        if family.name == "backbeat_dedup_calls":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    found[sample.labels["role"]] = sample.value
    return found


async def test_a_flight_kept_in_its_process_takes_no_lock_and_hands_nothing_off(
    clients: list[aioredis.Redis], prefix: str
) -> None:
    """`across=False` (one user's own data): shared by this process's callers only; Redis
    holds no lock and no result, and another process's flight of the key is its own."""
    one, two = (Dedup(client, prefix=prefix, poll_interval=POLL) for client in clients)
    upstream = Upstream({"items": []})
    calls = [
        asyncio.create_task(d.run("mine", upstream, across=False))
        for _ in range(20)
        for d in (one, two)
    ]
    await until(lambda: upstream.calls == 2)
    assert await clients[0].keys(f"{prefix}*") == []
    upstream.gate.set()
    assert await asyncio.gather(*calls) == [{"items": []}] * 40
    assert (one.leaders, two.leaders, one.local_followers, two.local_followers) == (1, 1, 19, 19)
    assert one.remote_followers + two.remote_followers == 0


async def test_a_follower_takes_over_when_the_leader_fails(
    clients: list[aioredis.Redis], prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = (Dedup(client, prefix=prefix, poll_interval=POLL) for client in clients)
    polling = watch_polls(monkeypatch, clients[1])
    failing, working = Upstream(error=RuntimeError("timeout")), Upstream("from two")
    led = [asyncio.create_task(one.run("k", failing)) for _ in range(5)]
    await until(failing.started.is_set)
    followed = [asyncio.create_task(two.run("k", working)) for _ in range(5)]
    await until(polling.is_set)
    working.gate.set()
    assert working.calls == 0  # two is only following
    failing.gate.set()
    assert await asyncio.gather(*led, return_exceptions=True) == [failing.error] * 5
    # well before lock_ttl: two saw the lock freed, it did not wait for it to expire
    assert await asyncio.wait_for(asyncio.gather(*followed), timeout=5) == ["from two"] * 5
    assert (failing.calls, working.calls) == (1, 1)
    assert (two.leaders, two.remote_followers, two.local_followers) == (1, 0, 4)


async def test_a_follower_gives_up_after_lock_ttl_and_calls_itself(
    clients: list[aioredis.Redis], prefix: str
) -> None:
    clock = FakeClock()
    dedup = Dedup(clients[0], prefix=prefix, lock_ttl=1.0, poll_interval=POLL, clock=clock)
    await clients[1].set(f"{prefix}:lock:{{k}}", "a hung process", px=60_000)
    start = clock.monotonic()
    assert await dedup.run("k", done(Upstream("mine"))) == "mine"
    assert dedup.leaders == 1
    assert clock.monotonic() - start >= 1.0


async def test_without_redis_a_flight_still_answers_once() -> None:
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    dedup = Dedup(client, prefix="bbtest:down", poll_interval=POLL)
    upstream = Upstream("answer")
    calls = [asyncio.create_task(dedup.run("k", upstream)) for _ in range(10)]
    await until(upstream.started.is_set)
    upstream.gate.set()
    assert await asyncio.gather(*calls) == ["answer"] * 10
    assert (upstream.calls, dedup.leaders, dedup.local_followers) == (1, 1, 9)
    await client.aclose()
