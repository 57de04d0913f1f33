"""Huey queues: storages from settings, priorities in Huey's order, the whole path in
immediate mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from backbeat.clock import SystemClock
from backbeat.config import JobsSettings, Settings
from backbeat.jobs import (
    HUEY_PRIORITY,
    ConsumerGroup,
    EmbeddedConsumer,
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
from backbeat.ratelimit import Priority
from tests.jobs.fakes import eventually


def test_embedded_queues_are_sqlite_files_under_var(jobs_settings: JobsSettings) -> None:
    queues = JobQueues.build(jobs_settings)
    try:
        assert queues.names == ("spotify", "default", "leaderboard", "insights")
        assert {type(h).__name__ for h in queues.all().values()} == {"SqliteHuey"}
        files = sorted(path.name for path in Path(jobs_settings.var_dir).iterdir())
        prefix = jobs_settings.prefix
        expected = ["cron", "default", "insights", "leaderboard", "spotify"]
        assert files == [f"{prefix}_{name}.db" for name in expected]
    finally:
        queues.close()


def test_a_redis_url_in_the_settings_means_priority_redis_queues() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:6379/15")
    queues = JobQueues.from_settings(settings)  # connects lazily
    try:
        assert {type(h).__name__ for h in queues.all().values()} == {"PriorityRedisHuey"}
    finally:
        queues.close()


def test_huey_runs_the_higher_number_first() -> None:
    assert (
        HUEY_PRIORITY[Priority.HIGH] > HUEY_PRIORITY[Priority.NORMAL] > HUEY_PRIORITY[Priority.LOW]
    )


async def test_a_high_job_behind_500_normal_ones_runs_next(
    queues: JobQueues, jobs_settings: JobsSettings, store: MemoryJobStore
) -> None:
    order: list[object] = []

    async def record(job: JobRecord) -> None:
        order.append(job.payload["n"])

    kinds = {"scan": JobKind("scan", "spotify", record, per_user=False)}
    register_tasks(queues, LoopBridge.attach(), JobRunner(store, kinds, queues))
    enqueuer = Enqueuer(store, queues, kinds)
    for n in range(500):
        await enqueuer.enqueue("scan", {"n": n}, priority=Priority.NORMAL, dedupe=False)
    await enqueuer.enqueue("scan", {"n": "manual"}, priority=Priority.HIGH, dedupe=False)
    assert queues.pending("spotify") == 501

    # One worker, so the execution order is the queue's order.
    consumer = EmbeddedConsumer(queues.huey("spotify"), workers=1, periodic=False, max_delay=0.05)
    group = ConsumerGroup({"spotify": consumer})
    group.start()
    try:

        async def three_ran() -> bool:
            return len(order) >= 3

        await eventually(three_ran)
    finally:
        await group.stop_async()
    assert order[:3] == ["manual", 0, 1]  # HIGH first, then NORMAL in FIFO order


async def test_immediate_mode_runs_the_whole_path_and_keeps_retries_scheduled(
    jobs_settings: JobsSettings, store: MemoryJobStore
) -> None:
    queues = JobQueues.build(jobs_settings, immediate=True)
    fail = True

    async def scan(job: JobRecord) -> str:
        if fail:
            raise RuntimeError("flaky")
        return "done"

    kinds = {"scan": JobKind("scan", "default", scan)}
    policy = RetryPolicy(jitter=0)
    runner = JobRunner(store, kinds, queues, policy=policy, clock=SystemClock())
    register_tasks(queues, LoopBridge.attach(), runner)
    enqueuer = Enqueuer(store, queues, kinds)

    job = (await enqueuer.enqueue("scan", user_id="u1")).job  # ran inside enqueue
    row = await store.get(job.id)
    assert row is not None
    assert row.status is JobStatus.RETRYING
    [retry] = queues.huey("default").scheduled()  # held by Huey until its eta
    assert retry.args == (job.id,)
    assert retry.priority == HUEY_PRIORITY[Priority.LOW]
    expected = row.run_at.astimezone(UTC).replace(tzinfo=None)  # Huey keeps naive UTC
    assert abs(retry.eta - expected) < timedelta(seconds=1)
    assert row.run_at > datetime.now(UTC) + timedelta(seconds=100)

    fail = False
    queues.flush()
    await queues.dispatch(row)  # as if the eta had come
    done = await store.get(job.id)
    assert done is not None
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 2, "done")
