"""Cron (UTC) from the settings, on the cron queue only, and the maintenance handlers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from backbeat.clock import FakeClock
from backbeat.config import JobsSettings
from backbeat.jobs import (
    JobQueues,
    JobStatus,
    LoopBridge,
    MemoryJobStore,
    NewJob,
    Reaper,
    maintenance_handlers,
    parse_cron,
    register_periodic,
)
from backbeat.jobs.metrics import JobMetrics
from tests.jobs.fakes import RecordingDispatcher


def test_cron_specs_read_as_huey_crontabs_in_utc() -> None:
    daily = parse_cron("0 2 * * *")
    assert daily(datetime(2026, 3, 4, 2, 0))
    assert not daily(datetime(2026, 3, 4, 2, 1))
    sunday = parse_cron("0 9 * * 0")
    assert sunday(datetime(2026, 3, 8, 9, 0))  # a Sunday
    assert not sunday(datetime(2026, 3, 9, 9, 0))
    every_30 = parse_cron("*/30 * * * *")
    assert [m for m in range(60) if every_30(datetime(2026, 3, 4, 5, m))] == [0, 30]
    with pytest.raises(ValueError, match="fields"):
        parse_cron("0 2 * *")
    with pytest.raises(ValueError, match="not a valid input"):
        parse_cron("0 2 * * mon")


def periodic_at(queues: JobQueues, when: datetime) -> set[str]:
    return {type(task).__name__ for task in queues.cron.read_periodic(when)}


async def test_periodic_tasks_live_on_the_cron_queue_only(
    jobs_settings: JobsSettings, store: MemoryJobStore, dispatcher: RecordingDispatcher
) -> None:
    queues = JobQueues.build(jobs_settings, immediate=True)
    ingested: list[str] = []

    async def ingest_all_users() -> int:
        ingested.append("all")
        return 1000

    handlers = maintenance_handlers(store, Reaper(store, dispatcher), jobs_settings)
    handlers["ingest_all_users"] = ingest_all_users
    names = register_periodic(queues, LoopBridge.attach(), handlers, jobs_settings)
    assert names == ["cleanup_jobs", "failed_job_monitor", "ingest_all_users", "reap_stale_jobs"]
    for queue in queues.names:
        assert queues.huey(queue)._registry.periodic_tasks == []

    assert periodic_at(queues, datetime(2026, 3, 4, 2, 0)) == {
        "cron_ingest_all_users",
        "cron_failed_job_monitor",
        "cron_reap_stale_jobs",
    }
    assert periodic_at(queues, datetime(2026, 3, 9, 3, 0)) == {  # a Monday
        "cron_cleanup_jobs",
        "cron_failed_job_monitor",
        "cron_reap_stale_jobs",
    }
    assert periodic_at(queues, datetime(2026, 3, 4, 2, 7)) == {"cron_reap_stale_jobs"}

    due = queues.cron.read_periodic(datetime(2026, 3, 4, 2, 0))
    [task] = [t for t in due if type(t).__name__ == "cron_ingest_all_users"]
    await asyncio.to_thread(task.execute)  # as a worker thread of the scheduler would
    assert ingested == ["all"]

    with pytest.raises(ValueError, match="no cron spec"):
        register_periodic(
            queues, LoopBridge.attach(), {"nightly_fun": ingest_all_users}, jobs_settings
        )


async def test_cleanup_purges_old_finished_jobs_and_the_monitor_counts_failures(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    jobs = JobsSettings(cleanup_retention_days=30)

    def now() -> datetime:
        return datetime.fromtimestamp(clock.time(), UTC)

    async def finished(status: JobStatus) -> str:
        job, _ = await store.create(NewJob(kind="ingest", queue="spotify"), now=now())
        await store.mark_running(job.id, now=now())
        if status is JobStatus.SUCCEEDED:
            await store.succeeded(job.id, 1, None, now=now())
        else:
            await store.failed(job.id, 1, "boom", now=now())
        return job.id

    old = await finished(JobStatus.SUCCEEDED)
    clock.advance(timedelta(days=31).total_seconds())
    recent = await finished(JobStatus.FAILED)
    metrics = JobMetrics()
    handlers = maintenance_handlers(
        store, Reaper(store, dispatcher, clock=clock), jobs, clock=clock, metrics=metrics
    )
    assert await handlers["failed_job_monitor"]() == 1
    failing = {"kind": "ingest"}
    assert metrics.registry.get_sample_value("backbeat_jobs_failed_recently", failing) == 1
    assert await handlers["cleanup_jobs"]() == 1
    assert await store.get(old) is None
    assert await store.get(recent) is not None
    assert await handlers["reap_stale_jobs"]() == 0

    clock.advance(600)  # a quiet window: the gauge goes back to 0
    assert await handlers["failed_job_monitor"]() == 0
    assert metrics.registry.get_sample_value("backbeat_jobs_failed_recently", failing) == 0
