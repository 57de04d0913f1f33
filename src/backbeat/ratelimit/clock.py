"""The time the limiter reads. A Protocol of its own so that `ratelimit` imports nothing else of
backbeat; `backbeat.clock.SystemClock` and `FakeClock` satisfy it."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class TimeSource(Protocol):
    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
