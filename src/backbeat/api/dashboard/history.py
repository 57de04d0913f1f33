"""`BudgetHistory`: the last few minutes of budget use, for the dashboard's charts.

A background task of the API's lifespan samples every app's limiter windows every `interval`
seconds into a ring buffer. In memory and per process on purpose: the windows themselves are
shared (Redis), so any API process draws the same picture from its own samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from backbeat.clock import Clock
from backbeat.ratelimit import Limiter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # epoch seconds
    windows: Mapping[str, Mapping[str, tuple[int, int]]]  # app → window key → (used, effective)


class BudgetHistory:
    def __init__(self, limiter: Limiter, clock: Clock, *, keep: int = 300) -> None:
        self.limiter = limiter
        self.clock = clock
        self.samples: deque[Sample] = deque(maxlen=keep)
        self._failing = False

    async def sample(self) -> Sample:
        """Take one sample of every app's windows now, and keep it."""
        windows: dict[str, dict[str, tuple[int, int]]] = {}
        for app in self.limiter.policies:
            snapshot = await self.limiter.snapshot(app)
            windows[app] = {w.key: (w.used, w.effective_limit) for w in snapshot.windows}
        taken = Sample(self.clock.time(), windows)
        self.samples.append(taken)
        return taken

    async def run(self, interval: float) -> None:
        """Sample every `interval` seconds until cancelled; a store that is down leaves a gap."""
        while True:
            try:
                await self.sample()
                self._failing = False
            except Exception:  # the limiter's store is down: the gap shows on the chart
                if not self._failing:
                    log.warning("dashboard: cannot sample the limiter", exc_info=True)
                self._failing = True
            await asyncio.sleep(interval)

    def series(self) -> dict[str, Any]:
        """The buffer as columns: `t` (epoch seconds) and, per app and window, `used` and
        `limit` (effective) lists aligned with `t` (None where a window was not sampled)."""
        samples = list(self.samples)
        series: dict[str, dict[str, dict[str, list[int | None]]]] = {}
        for index, sample in enumerate(samples):
            for app, windows in sample.windows.items():
                for key, (used, limit) in windows.items():
                    column = series.setdefault(app, {}).setdefault(
                        key, {"used": [None] * len(samples), "limit": [None] * len(samples)}
                    )
                    column["used"][index] = used
                    column["limit"][index] = limit
        return {"t": [sample.at for sample in samples], "series": series}


@asynccontextmanager
async def sampling(history: BudgetHistory, interval: float) -> AsyncIterator[BudgetHistory]:
    task = asyncio.create_task(history.run(interval), name="dashboard sampler")
    try:
        yield history
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
