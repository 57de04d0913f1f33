"""Every building block runs on memory and on Redis; Redis keys live under a fresh prefix that is
wiped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis


@pytest.fixture
def prefix() -> str:
    return f"bbtest:up:{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["memory", "redis"])
async def store_url(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[str]:
    if request.param == "memory":
        yield "memory://"
        return
    url: str = request.getfixturevalue("redis_url")
    yield url
    await wipe(url, prefix)


async def wipe(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    await client.aclose()
