"""Periodic tasks (cron, UTC) on the cron queue, from `JobsSettings.cron()`.

Huey enqueues periodic tasks only in a consumer started with `periodic=True`, and a worker can
only run a task it has registered. So periodic tasks are registered on the cron queue alone,
which only the process running the scheduler consumes (`backbeat scheduler`, or the API in
embedded mode): workers never see them, and exactly one process fires each tick.

Each periodic task is as thin as `run_job`: it runs an async handler on the bridge. Handlers that
do much (ingest all users) should only enqueue jobs (`Enqueuer.enqueue_batch`) for the other
queues, so the cron queue stays quick. The maintenance handlers (reaper, cleanup, failed-job
monitor) are here; the domain's (ingest, weekly summaries, token refresh) come from the domain.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from huey import crontab  # type: ignore[import-untyped]

from backbeat.clock import Clock, SystemClock
from backbeat.config import JobsSettings
from backbeat.jobs.bridge import LoopBridge
from backbeat.jobs.lifecycle import JobStore, now_utc
from backbeat.jobs.metrics import JobMetrics
from backbeat.jobs.queues import JobQueues
from backbeat.jobs.reaper import Reaper

log = logging.getLogger(__name__)

CronHandler = Callable[[], Coroutine[Any, Any, object]]


def parse_cron(spec: str) -> Callable[[datetime], bool]:
    """`minute hour day month weekday` (weekday 0 = Sunday) → a test of a naive UTC datetime,
    as Huey's scheduler calls it. Raises ValueError for what Huey cannot read."""
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 cron fields, got {spec!r}")
    minute, hour, day, month, weekday = fields
    test: Callable[[datetime], bool] = crontab(
        minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, strict=True
    )
    return test


def register_periodic(
    queues: JobQueues,
    bridge: LoopBridge,
    handlers: Mapping[str, CronHandler],
    jobs: JobsSettings,
) -> list[str]:
    """Register a periodic task per handler, at its spec in `jobs.cron()`; return their names.
    Call only in the process that runs the scheduler."""
    specs = jobs.cron()
    unknown = sorted(set(handlers) - set(specs))
    if unknown:
        raise ValueError(f"no cron spec for {', '.join(unknown)} (known: {', '.join(specs)})")
    for name, handler in handlers.items():
        queues.cron.periodic_task(parse_cron(specs[name]), name=f"cron_{name}")(
            _periodic(bridge, name, handler)
        )
    idle = sorted(set(specs) - set(handlers))
    if idle:
        log.info("cron entries without a handler (not scheduled): %s", ", ".join(idle))
    return sorted(handlers)


def _periodic(bridge: LoopBridge, name: str, handler: CronHandler) -> Callable[[], None]:
    def fire() -> None:
        result = bridge.run(handler)
        log.info("cron %s done: %s", name, result)

    fire.__name__ = f"cron_{name}"
    return fire


def maintenance_handlers(
    store: JobStore,
    reaper: Reaper,
    jobs: JobsSettings,
    *,
    monitor_window: float = 300.0,
    clock: Clock | None = None,
    metrics: JobMetrics | None = None,
) -> dict[str, CronHandler]:
    """The job system's own periodic work: reap stale jobs, purge old ones, report failures."""
    time: Clock = clock or SystemClock()

    async def reap_stale_jobs() -> int:
        reaped = len(await reaper.run_once())
        if metrics is not None:
            metrics.reaped.inc(reaped)
        return reaped

    async def cleanup_jobs() -> int:
        before = now_utc(time) - timedelta(days=jobs.cleanup_retention_days)
        purged = await store.purge_finished(before=before)
        log.info("purged %d jobs finished before %s", purged, before.isoformat())
        return purged

    async def failed_job_monitor() -> int:
        since = now_utc(time) - timedelta(seconds=monitor_window)
        failed = await store.failed_since(since, limit=1000)
        if metrics is not None:
            metrics.failures(failed)
        if failed:
            kinds = Counter(job.kind for job in failed)
            summary = ", ".join(f"{kind} ×{count}" for kind, count in kinds.most_common())
            log.error("%d jobs failed in the last %.0f s: %s", len(failed), monitor_window, summary)
        return len(failed)

    return {
        "reap_stale_jobs": reap_stale_jobs,
        "cleanup_jobs": cleanup_jobs,
        "failed_job_monitor": failed_job_monitor,
    }
