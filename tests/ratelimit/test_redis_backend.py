"""What only the Redis backend does: Redis' own clock, the run id and its warm-up, expiring keys,
scripts that survive SCRIPT FLUSH, and an unreachable server surfacing as ConnectionError."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from backbeat.clock import FakeClock
from backbeat.ratelimit import Limiter, LimiterUnavailable, Policy, Priority, Rate
from backbeat.ratelimit.backends.base import Acquire, Decision, Outcome
from backbeat.ratelimit.backends.redis import STATE_TTL, RedisBackend
from backbeat.ratelimit.clock import TimeSource
from backbeat.simulator.server import free_port

APP = "spotify:redis"
RULES = Policy(app=APP, classes={"read": (Rate(10, 30),)}, reserve_share=0.0, pace=False)

Factory = Callable[..., RedisBackend]


@pytest.fixture
async def make(redis_url: str) -> AsyncIterator[Factory]:
    """Backends on one fresh prefix; every key under it is deleted afterwards."""
    prefix = f"bbtest:{uuid.uuid4().hex[:8]}"
    made: list[RedisBackend] = []

    def factory(clock: TimeSource | None = None) -> RedisBackend:
        made.append(RedisBackend.from_url(redis_url, clock=clock, prefix=prefix))
        return made[-1]

    yield factory
    await wipe(made[0], prefix)
    for backend in made:
        await backend.close()


async def wipe(backend: RedisBackend, prefix: str) -> None:
    """What the limiter sees after FLUSHDB, limited to this test's keys (DB 15 is shared)."""
    async for key in backend.client.scan_iter(match=f"{prefix}*"):
        await backend.client.delete(key)


def attempt(priority: Priority = Priority.NORMAL, known_run: str | None = None) -> Acquire:
    return Acquire(RULES, RULES.windows("read"), priority, 1, uuid.uuid4().hex, known_run)


async def grants(backend: RedisBackend, count: int, known_run: str | None) -> list[Decision]:
    return [await backend.acquire(attempt(known_run=known_run)) for _ in range(count)]


async def test_grants_are_stamped_with_redis_time_without_an_injected_clock(make: Factory) -> None:
    backend = make()
    seconds, micros = await backend.client.time()
    before = seconds + micros / 1e6
    decision = await backend.acquire(attempt())
    seconds, micros = await backend.client.time()
    assert before <= decision.now <= seconds + micros / 1e6
    log = backend.keys(APP, RULES.windows("read"))[-1]
    scores = await backend.client.zrange(log, 0, -1, withscores=True)
    assert scores == [(b"1", decision.now)]  # floats come back from Lua as text, to the last bit


async def test_an_injected_clock_round_trips_exactly(make: Factory) -> None:
    clock = FakeClock(start=1_800_000_000.123456)
    backend = make(clock)
    first = [await backend.acquire(attempt()) for _ in range(10)]
    clock.advance(0.000_001)
    refused = await backend.acquire(attempt())
    assert first[0].now == 1_800_000_000.123456
    assert (refused.granted, refused.reason) == (False, "window")
    assert refused.wait == (1_800_000_000.123456 + 30) - clock.time()


async def test_a_store_that_came_back_empty_warms_up_with_half_windows(make: Factory) -> None:
    clock = FakeClock()
    backend = make(clock)
    first = await grants(backend, 10, known_run=None)
    assert all(d.granted for d in first)  # a first start: the whole window, no warm-up
    run = first[0].run_id
    assert {d.run_id for d in first} == {run}

    clock.advance(30)
    await wipe(backend, backend.prefix)  # a restart or FLUSHDB: the last window is lost
    after = await grants(backend, 6, known_run=run)
    assert after[0].run_id != run
    assert [d.granted for d in after] == [True] * 5 + [False]
    metrics = await backend.snapshot(RULES)
    assert metrics.warming_up
    assert metrics.windows[0].effective_limit == 5

    clock.advance(30)  # one longest period later: full windows again
    assert not (await backend.snapshot(RULES)).warming_up
    assert all(d.granted for d in await grants(backend, 10, known_run=after[0].run_id))


async def test_a_new_process_on_an_empty_store_does_not_warm_up(make: Factory) -> None:
    backend = make(FakeClock())
    await grants(backend, 1, known_run=None)
    await wipe(backend, backend.prefix)
    assert all(d.granted for d in await grants(backend, 10, known_run=None))
    assert not (await backend.snapshot(RULES)).warming_up


async def test_the_limiter_remembers_the_run_and_warms_up_after_a_flush(make: Factory) -> None:
    clock = FakeClock()
    backend = make(clock)
    front = Limiter(backend, {APP: RULES}, clock, rng=random.Random(1))
    await front.acquire(APP)
    await wipe(backend, backend.prefix)
    await front.acquire(APP)
    assert (await front.snapshot(APP)).warming_up


async def test_a_second_app_of_the_same_limiter_does_not_warm_up(make: Factory) -> None:
    """Run ids are per app: the first use of another app is not a store that came back empty."""
    clock = FakeClock()
    other = Policy(
        app="spotify:other", classes={"read": (Rate(10, 30),)}, reserve_share=0.0, pace=False
    )
    front = Limiter(make(clock), {APP: RULES, other.app: other}, clock, rng=random.Random(1))
    await front.acquire(APP)
    granted = [await front.acquire(other.app, max_wait=0) for _ in range(10)]
    assert len(granted) == 10
    assert not (await front.snapshot(other.app)).warming_up


async def test_every_key_expires_and_a_ban_keeps_the_state(make: Factory) -> None:
    clock = FakeClock()
    backend = make(clock)
    rules = Policy(app=APP, classes={"read": (Rate(1, 30),)}, concurrency=5)
    windows = rules.windows("read")
    high = await backend.acquire(Acquire(rules, windows, Priority.HIGH, 1, "h", None))
    await backend.acquire(Acquire(rules, windows, Priority.LOW, 1, "l", None))  # a waiter
    client = backend.client
    keys = [key async for key in client.scan_iter(match=f"{backend.prefix}*")]
    assert len(keys) == 5  # state, leases, one waiter set, one log and its waiters
    assert len({key_slot(key) for key in keys}) == 1  # one hash tag: one cluster slot
    for key in keys:
        ttl = await client.pttl(key)
        limit = STATE_TTL if key.endswith(b":state") else 3 * 60
        assert 0 < ttl <= limit * 1000, key

    await backend.finish(
        rules, Outcome("quota", high.now, retry_after=7 * 86_400, lease=high.lease)
    )
    state = backend.keys(APP, ())[0]
    assert await client.pttl(state) > 7 * 86_400 * 1000  # outlives the ban


async def test_scripts_are_loaded_again_after_script_flush(make: Factory) -> None:
    backend = make(FakeClock())
    assert (await backend.acquire(attempt())).granted
    await backend.client.script_flush()
    assert (await backend.acquire(attempt())).granted
    await backend.finish(RULES, Outcome("rate_limited", 0.0, retry_after=1))
    assert (await backend.snapshot(RULES)).grants == 2


async def test_a_client_that_decodes_responses_works_too(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    backend = RedisBackend(client, clock=FakeClock(), prefix=f"bbtest:{uuid.uuid4().hex[:8]}")
    try:
        decision = await backend.acquire(attempt())
        assert decision.granted
        assert (await backend.snapshot(RULES)).windows[0].used == 1
    finally:
        await wipe(backend, backend.prefix)
        await backend.close()  # not its client: still usable
        assert await client.ping()
        await client.aclose()


async def test_an_unreachable_server_is_a_connection_error() -> None:
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{free_port()}/0", clock=FakeClock())
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: backend.acquire(attempt()),
        lambda: backend.finish(RULES, Outcome("rate_limited", 0.0)),
        lambda: backend.snapshot(RULES),
    ]
    for call in calls:
        with pytest.raises(ConnectionError) as caught:
            await call()
        assert isinstance(caught.value, OSError)  # what the Limiter catches
    await backend.close()


async def test_the_limiter_fails_closed_on_an_unreachable_server() -> None:
    clock = FakeClock()
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{free_port()}/0")
    front = Limiter(backend, {APP: RULES}, clock)
    with pytest.raises(LimiterUnavailable):
        await front.acquire(APP, priority=Priority.HIGH, max_wait=1)
    await front.close()


async def test_a_server_that_never_answers_is_a_timeout() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, never answer
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0?socket_timeout=0.2&socket_connect_timeout=0.2"
    backend = RedisBackend.from_url(url, clock=FakeClock())
    with pytest.raises(TimeoutError):
        await backend.acquire(attempt())
    await backend.close()
    server.close()
    await server.wait_closed()


def test_the_scripts_are_package_data() -> None:
    lua = files("backbeat.ratelimit") / "lua"
    for name in ("common", "acquire", "finish", "snapshot"):
        assert (lua / f"{name}.lua").read_text("utf-8").startswith("--")
