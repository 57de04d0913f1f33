"""The user-processing limit (seed 000): at most `max_users` users processed at once, and each
new user starts at least `inter_user_delay` after the previous one started.

It bounds parallel per-user work (DB sessions, memory, a user's share of the budget); the
upstream rate itself is the global limiter's job. Jobs of a user already being processed join
that user's slot instead of taking another: the limit counts users, not jobs.

`UserSlots` is what the runner needs. `UserLimiter` here is per process (asyncio, on the bridge's
loop): with several worker processes its bound is `max_users * processes`, so it serves embedded
mode. `shared_limits.RedisUserLimiter` keeps the same limit in Redis for every process on it
(leases renewed while held, so a killed worker's users come back after one lease).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from backbeat.clock import Clock, SystemClock


class UserSlots(Protocol):
    def slot(self, user_id: str) -> AbstractAsyncContextManager[None]:
        """Hold a place for `user_id` while the body runs (joining the user's place when it is
        already held): waits for a free place, then for the inter-user delay."""
        ...


class UserLimiter:
    def __init__(
        self, max_users: int, inter_user_delay: float, *, clock: Clock | None = None
    ) -> None:
        if max_users < 1:
            raise ValueError("max_users must be at least 1")
        self.max_users = max_users
        self.inter_user_delay = max(0.0, inter_user_delay)
        self._clock: Clock = clock or SystemClock()
        self._holders: dict[str, int] = {}  # user → jobs inside (or admitted and waiting)
        self._starts: dict[str, float] = {}  # user → when the user may start (monotonic)
        self._next_start = float("-inf")
        self._changed = asyncio.Condition()

    @property
    def active_users(self) -> int:
        return len(self._holders)

    @asynccontextmanager
    async def slot(self, user_id: str) -> AsyncIterator[None]:
        """Hold a slot for `user_id` while the body runs; waits for a free slot, then for the
        inter-user delay."""
        start = await self._admit(user_id)
        try:
            wait = start - self._clock.monotonic()
            if wait > 0:
                await self._clock.sleep(wait)
            yield
        finally:
            await self._leave(user_id)

    async def _admit(self, user_id: str) -> float:
        async with self._changed:
            await self._changed.wait_for(
                lambda: user_id in self._holders or len(self._holders) < self.max_users
            )
            if user_id in self._holders:
                self._holders[user_id] += 1
                return self._starts[user_id]
            # Reserve the start time now (no await in between), so admitted users are spaced
            # by the delay in admission order even while several of them sleep at once.
            start = max(self._clock.monotonic(), self._next_start + self.inter_user_delay)
            self._next_start = start
            self._holders[user_id] = 1
            self._starts[user_id] = start
            return start

    async def _leave(self, user_id: str) -> None:
        async with self._changed:
            left = self._holders[user_id] - 1
            if left:
                self._holders[user_id] = left
                return
            del self._holders[user_id]
            del self._starts[user_id]
            self._changed.notify_all()
