"""The embedded consumer inside an asyncio program (as in the API server), with Huey 3.5."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from backbeat.clock import SystemClock
from backbeat.config import JobsSettings
from backbeat.jobs import (
    ConsumerGroup,
    Enqueuer,
    JobKind,
    JobQueues,
    JobRecord,
    JobRunner,
    JobStatus,
    LoopBridge,
    MemoryJobStore,
    RetryPolicy,
    register_tasks,
)
from backbeat.ratelimit import UpstreamBanned
from tests.jobs.fakes import eventually


async def test_started_and_stopped_from_inside_a_running_loop(
    queues: JobQueues, jobs_settings: JobsSettings, store: MemoryJobStore
) -> None:
    loop_thread = threading.current_thread()
    ran_on: list[threading.Thread] = []

    async def scan(job: JobRecord) -> dict[str, str]:
        ran_on.append(threading.current_thread())
        return {"user": job.user_id or ""}

    kinds = {"scan": JobKind("scan", "spotify", scan)}
    register_tasks(queues, LoopBridge.attach(), JobRunner(store, kinds, queues))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    group = ConsumerGroup.build(queues, jobs_settings, scheduler=True)
    assert set(group.consumers) == {"spotify", "default", "leaderboard", "insights", "cron"}
    group.start()
    try:
        assert {sig: signal.getsignal(sig) for sig in handlers} == handlers  # the host's
        job = (await Enqueuer(store, queues, kinds).enqueue("scan", user_id="u1")).job

        async def succeeded() -> bool:
            row = await store.get(job.id)
            return row is not None and row.status is JobStatus.SUCCEEDED

        await eventually(succeeded)
    finally:
        await group.stop_async()  # off the loop: the workers' last calls need it
    assert ran_on == [loop_thread]  # the service ran on the one loop, not a worker thread
    workers = [t for c in group.consumers.values() for _, t in c.worker_threads]
    assert workers
    assert not any(t.is_alive() for t in workers)
    assert not any(c.scheduler.is_alive() for c in group.consumers.values())


async def test_a_deferred_job_comes_back_through_hueys_schedule(
    jobs_settings: JobsSettings, store: MemoryJobStore
) -> None:
    queues = JobQueues.build(jobs_settings)  # SQLite: the schedule is a table
    runs: list[float] = []

    async def scan(job: JobRecord) -> str:
        runs.append(time.time())
        if len(runs) == 1:
            raise UpstreamBanned("spotify:app", retry_at=time.time() + 1.0)
        return "ok"

    kinds = {"scan": JobKind("scan", "default", scan)}
    runner = JobRunner(store, kinds, queues, policy=RetryPolicy(ban_jitter=0), clock=SystemClock())
    register_tasks(queues, LoopBridge.attach(), runner)
    group = ConsumerGroup.build(queues, jobs_settings, names=["default"])
    group.start()
    try:
        job = (await Enqueuer(store, queues, kinds).enqueue("scan", user_id="u1")).job

        async def succeeded() -> bool:
            row = await store.get(job.id)
            return row is not None and row.status is JobStatus.SUCCEEDED

        await eventually(succeeded)
    finally:
        await group.stop_async()
        queues.close()
    row = await store.get(job.id)
    assert row is not None
    assert row.attempts == 1
    assert runs[1] - runs[0] >= 1.0 - 0.05  # not before the ban's end


def test_stop_before_start_is_harmless(queues: JobQueues, jobs_settings: JobsSettings) -> None:
    group = ConsumerGroup.build(queues, jobs_settings, names=["default"])
    group.stop()
    group.start()
    with pytest.raises(RuntimeError, match="already running"):
        group.start()
    group.stop(graceful=False)
