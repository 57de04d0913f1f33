"""Test doubles for jobs: a dispatcher that records instead of enqueueing, and polling."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from backbeat.jobs import JobRecord
from backbeat.ratelimit import Priority


@dataclass(frozen=True)
class Sent:
    job_id: str
    queue: str
    priority: Priority
    eta: datetime | None


class RecordingDispatcher:
    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def dispatch(
        self, job: JobRecord, *, priority: Priority | None = None, eta: datetime | None = None
    ) -> None:
        level = job.priority if priority is None else priority
        self.sent.append(Sent(job.id, job.queue, level, eta))


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll `check` on the loop (keeping it free for the workers' bridge calls)."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
