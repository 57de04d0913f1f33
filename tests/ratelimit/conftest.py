"""One contract suite, every backend: `backend` runs each test on memory:// and on Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from backbeat.clock import FakeClock
from backbeat.ratelimit import Backend
from backbeat.ratelimit.backends.memory import MemoryBackend


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Backend]:
    if request.param == "memory":
        memory = MemoryBackend(clock)
        yield memory
        await memory.close()
        return
    url = request.getfixturevalue("redis_url")
    from backbeat.ratelimit.backends.redis import RedisBackend

    prefix = f"bbtest:{uuid.uuid4().hex[:8]}"
    redis_backend = RedisBackend.from_url(url, clock=clock, prefix=prefix)
    yield redis_backend
    client = redis_backend.client
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    await redis_backend.close()
