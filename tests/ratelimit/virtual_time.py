"""A clock for many coroutines at once: `sleep` waits for virtual time, which jumps to the next
wake-up whenever every task is blocked. No wall-clock waiting, deterministic order."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable


class VirtualClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._order), future))
        await future

    async def run(self, *work: Awaitable[object], until: float) -> None:
        """Run `work` until all of it ends or virtual time passes `until` seconds from now."""
        deadline = self._now + until
        tasks = [asyncio.ensure_future(w) for w in work]
        while not all(t.done() for t in tasks):
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            if not self._timers or self._timers[0][0] > deadline:
                break
            wake, _, future = heapq.heappop(self._timers)
            self._now = max(self._now, wake)
            future.set_result(None)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception():
                raise task.exception()  # type: ignore[misc]
