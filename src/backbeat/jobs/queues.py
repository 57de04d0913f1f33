"""`JobQueues`: one Huey instance per queue, built at an entry point (never at import).

- Embedded (no Redis URL): `SqliteHuey`, one file per queue under `var_dir`, so queued jobs
  survive a restart of the one process.
- Distributed (a Redis URL): `PriorityRedisHuey`, shared by every API and worker process.
- Tests: `immediate=True` (Huey runs each task inside `enqueue`, in memory).

Every queue carries one task, `run_job(job_id)`, registered by `register` (see
`backbeat.jobs.runner.register_tasks`): a message only names a job, its row says the rest. Periodic
tasks live on a queue of their own (`cron`) that only the scheduler consumes, so worker processes
never see a periodic task they have not registered.

Huey runs the higher number first (SQLite orders by `priority desc`; the Redis storage keeps
`-priority` in a sorted set and pops the minimum), the reverse of `Priority`, hence the map.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from huey import MemoryHuey, PriorityRedisHuey, SqliteHuey  # type: ignore[import-untyped]

from backbeat.config import JobsSettings, Settings
from backbeat.jobs.lifecycle import JobRecord
from backbeat.ratelimit import Priority

RUN_JOB = "run_job"
HUEY_PRIORITY: Mapping[Priority, int] = {Priority.HIGH: 20, Priority.NORMAL: 10, Priority.LOW: 0}


class JobQueues:
    def __init__(self, hueys: Mapping[str, Any], *, cron: Any, cron_name: str = "cron") -> None:
        self._hueys = dict(hueys)
        self.cron: Any = cron  # a Huey instance: periodic tasks, consumed by the scheduler only
        self.cron_name = cron_name
        self._run_job: dict[str, Any] = {}  # queue → Huey TaskWrapper of `run_job`

    @classmethod
    def from_settings(cls, settings: Settings, *, immediate: bool = False) -> JobQueues:
        """Redis queues when `settings.redis_url` is set, SQLite files otherwise."""
        return cls.build(settings.jobs, redis_url=settings.redis_url, immediate=immediate)

    @classmethod
    def build(
        cls, jobs: JobsSettings, *, redis_url: str | None = None, immediate: bool = False
    ) -> JobQueues:
        var_dir = Path(jobs.var_dir)
        if not (immediate or redis_url):
            var_dir.mkdir(parents=True, exist_ok=True)

        def make(queue: str) -> Any:
            name = f"{jobs.prefix}_{queue}"  # Redis keys keep only [A-Za-z0-9_]
            if immediate:
                return MemoryHuey(name, immediate=True, results=False)
            if redis_url:
                return PriorityRedisHuey(name, url=redis_url, results=False)
            return SqliteHuey(name, filename=str(var_dir / f"{name}.db"), results=False)

        hueys = {queue: make(queue) for queue in jobs.queues}
        return cls(hueys, cron=make(jobs.cron_queue), cron_name=jobs.cron_queue)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._hueys)

    def huey(self, queue: str) -> Any:
        try:
            return self._hueys[queue]
        except KeyError:
            raise KeyError(f"no job queue {queue!r} (queues: {', '.join(self._hueys)})") from None

    def all(self) -> dict[str, Any]:
        """Every Huey instance by queue name, the cron queue included."""
        return {**self._hueys, self.cron_name: self.cron}

    def register(
        self, run_job: Callable[[str], object], *, retries: int = 0, retry_delay: float = 0.0
    ) -> None:
        """Register the thin `run_job(job_id)` task on every queue (once per instance)."""
        for queue, huey in self._hueys.items():
            if queue in self._run_job:
                raise RuntimeError(f"run_job is already registered on queue {queue!r}")
            task = huey.task(name=RUN_JOB, retries=retries, retry_delay=retry_delay)
            self._run_job[queue] = task(run_job)

    async def dispatch(
        self, job: JobRecord, *, priority: Priority | None = None, eta: datetime | None = None
    ) -> None:
        # Huey's storages block (SQLite, Redis), and in immediate mode enqueue runs the task,
        # which calls back into this loop: either way, not on the loop's thread.
        level = job.priority if priority is None else priority
        await asyncio.to_thread(self.dispatch_now, job.queue, job.id, level, eta)

    def dispatch_now(
        self, queue: str, job_id: str, priority: Priority, eta: datetime | None = None
    ) -> None:
        """Enqueue `run_job(job_id)` on `queue` from a thread that is not the loop's."""
        task = self._run_job.get(queue)
        if task is None:
            self.huey(queue)  # an unknown queue says so
            raise RuntimeError(f"run_job is not registered on queue {queue!r}: call register()")
        message = task.s(job_id, priority=HUEY_PRIORITY[priority], eta=eta)
        self._hueys[queue].enqueue(message)

    def pending(self, queue: str) -> int:
        """Messages ready to run on `queue` (not those scheduled for later)."""
        return int(self.huey(queue).pending_count())

    def scheduled(self, queue: str) -> int:
        return int(self.huey(queue).scheduled_count())

    def flush(self) -> None:
        """Drop every message and schedule entry (tests, and resets of a development setup)."""
        for huey in self.all().values():
            huey.flush()

    def close(self) -> None:
        for huey in self.all().values():
            huey.storage.close()
            pool = getattr(huey.storage, "pool", None)  # Redis storages keep a pool
            if pool is not None:
                pool.disconnect()
