"""One refresh of a user's Spotify token at a time across processes, on the deployment's Redis.

Two processes refreshing the same user at once would both spend a call to the accounts service,
and where Spotify rotates refresh tokens the slower one would store a token the faster one's
rotation already replaced. redis-py's lock (SET NX PX, released only by its holder) serves: a
holder that dies frees it after `ttl`; a waiter gives up after `wait` and refreshes anyway, as
it does when Redis cannot be reached — a second refresh is wasteful, never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)


class RedisRefreshLock:
    def __init__(
        self, redis: aioredis.Redis, app: str, *, ttl: float = 30.0, wait: float = 10.0
    ) -> None:
        self.redis = redis
        self.prefix = f"bb:token-refresh:{app}:"
        self.ttl = ttl
        self.wait = wait

    @asynccontextmanager
    async def hold(self, user: str) -> AsyncIterator[None]:
        lock = self.redis.lock(
            self.prefix + user, timeout=self.ttl, sleep=0.05, blocking_timeout=self.wait
        )
        try:
            held = await lock.acquire()
        except RedisError as error:
            log.warning("token refresh of %s without the shared lock: %s", user, error)
            held = False
        try:
            yield
        finally:
            if held:
                with suppress(LockError, RedisError):  # expired meanwhile, or Redis went away
                    await lock.release()
