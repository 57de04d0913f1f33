"""IdRegistry on memory and on Redis: verdicts judged by an injected clock, batches in one read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from backbeat.clock import FakeClock
from backbeat.upstream.registry import FOUND_TTL, MISSING_TTL, IdRegistry

DAY = 86_400.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def registry(store_url: str, prefix: str, clock: FakeClock) -> AsyncIterator[IdRegistry]:
    made = IdRegistry.from_url(store_url, clock, prefix=prefix)
    yield made
    await made.close()


async def test_verdicts_come_back_and_unknown_ids_are_none(registry: IdRegistry) -> None:
    assert await registry.lookup("track", []) == {}
    await registry.mark("track", found=["a", "b"], missing=["c"])
    verdicts = await registry.lookup("track", ["a", "c", "x", "a", "b"])
    assert verdicts == {"a": True, "c": False, "x": None, "b": True}
    assert await registry.lookup("artist", ["a", "c"]) == {"a": None, "c": None}  # own namespace


async def test_an_id_marked_both_ways_counts_as_found(registry: IdRegistry) -> None:
    await registry.mark("track", found=["a"], missing=["a", "b"])
    assert await registry.lookup("track", ["a", "b"]) == {"a": True, "b": False}


async def test_missing_expires_after_7_days_and_found_after_30(
    registry: IdRegistry, clock: FakeClock
) -> None:
    await registry.mark("track", found=["hit"], missing=["gone"])
    clock.advance(7 * DAY - 1)
    assert await registry.lookup("track", ["hit", "gone"]) == {"hit": True, "gone": False}
    clock.advance(2)
    assert await registry.lookup("track", ["hit", "gone"]) == {"hit": True, "gone": None}
    await registry.mark("track", found=["gone"])  # a fresh verdict replaces the stale one
    clock.advance(30 * DAY - 7 * DAY - 2)
    assert await registry.lookup("track", ["hit", "gone"]) == {"hit": True, "gone": True}
    clock.advance(2)
    assert await registry.lookup("track", ["hit", "gone"]) == {"hit": None, "gone": True}


async def test_the_store_drops_verdicts_once_stale(registry: IdRegistry) -> None:
    await registry.mark("track", found=["hit"], missing=["gone"])
    found_ttl = await registry.store.get_expire(f"{registry.prefix}:track:hit")
    missing_ttl = await registry.store.get_expire(f"{registry.prefix}:track:gone")
    assert FOUND_TTL - 2 <= found_ttl <= FOUND_TTL
    assert MISSING_TTL - 2 <= missing_ttl <= MISSING_TTL


async def test_a_batch_is_one_get_many(
    registry: IdRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"id{n}" for n in range(250)]
    await registry.mark("track", found=ids[::2], missing=ids[1::3])
    calls: list[tuple[str, ...]] = []
    get_many = registry.store.get_many

    async def counting(*keys: str, default: Any = None) -> tuple[Any, ...]:
        calls.append(keys)
        return await get_many(*keys, default=default)

    monkeypatch.setattr(registry.store, "get_many", counting)
    verdicts = await registry.lookup("track", ids)
    assert len(calls) == 1
    assert len(calls[0]) == 250
    assert sum(v is True for v in verdicts.values()) == 125
    assert verdicts["id1"] is False
    assert verdicts["id3"] is None


async def test_on_redis_a_batch_is_one_mget(
    redis_url: str, prefix: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = IdRegistry.from_url(redis_url, clock, prefix=prefix)
    ids = [f"id{n}" for n in range(100)]
    await registry.mark("track", found=ids[:50], missing=ids[50:60])
    commands: list[tuple[Any, ...]] = []
    execute: Callable[..., Awaitable[Any]] = aioredis.Redis.execute_command

    async def counting(self: aioredis.Redis, *args: Any, **options: Any) -> Any:
        commands.append(args)
        return await execute(self, *args, **options)

    monkeypatch.setattr(aioredis.Redis, "execute_command", counting)
    verdicts = await registry.lookup("track", ids)
    monkeypatch.undo()
    assert [command[0] for command in commands] == ["MGET"]
    assert len(commands[0]) == 1 + 100
    assert list(verdicts.values()) == [True] * 50 + [False] * 10 + [None] * 40
    client = aioredis.Redis.from_url(redis_url)
    await client.delete(*(f"{prefix}:track:{id_}" for id_ in ids))
    await client.aclose()
    await registry.close()
