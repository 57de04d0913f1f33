"""The runner maps a service's outcome onto the job row, with computed (never slept) delays."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backbeat.clock import FakeClock
from backbeat.jobs import (
    Enqueuer,
    JobKind,
    JobRecord,
    JobRunner,
    JobStatus,
    MemoryJobStore,
    Reaper,
    RetryPolicy,
    RunLater,
)
from backbeat.ratelimit import Priority, SlotTimeout, UpstreamBanned
from tests.jobs.fakes import RecordingDispatcher


def at(clock: FakeClock, seconds: float = 0.0) -> datetime:
    return datetime.fromtimestamp(clock.time() + seconds, UTC)


def stack(
    store: MemoryJobStore,
    dispatcher: RecordingDispatcher,
    clock: FakeClock,
    handler: Any,
    **runner_options: Any,
) -> tuple[Enqueuer, JobRunner]:
    kinds = {"scan": JobKind("scan", "spotify", handler)}
    runner_options.setdefault("policy", RetryPolicy(jitter=0, ban_jitter=0))
    runner = JobRunner(store, kinds, dispatcher, clock=clock, **runner_options)
    return Enqueuer(store, dispatcher, kinds, clock=clock), runner


async def test_success_stores_the_result_and_a_rerun_is_a_no_op(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    calls: list[str] = []

    async def scan(job: JobRecord) -> dict[str, int]:
        calls.append(job.id)
        return {"tracks": 42}

    enqueuer, runner = stack(store, dispatcher, clock, scan)
    job = (await enqueuer.enqueue("scan", {"range": "short"}, user_id="u1")).job
    assert (await runner.run(job.id)).status is JobStatus.SUCCEEDED
    again = await runner.run(job.id)  # a duplicate message, e.g. a promoted job's old one
    assert again.status is None
    assert calls == [job.id]
    done = await store.get(job.id)
    assert done is not None
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 1, {"tracks": 42})
    assert done.started_at == done.finished_at == at(clock)


async def test_errors_retry_after_2_4_8_minutes_at_low_priority_then_fail(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    async def broken(job: JobRecord) -> None:
        raise RuntimeError("upstream said no")

    enqueuer, runner = stack(store, dispatcher, clock, broken)
    job = (await enqueuer.enqueue("scan", user_id="u1")).job
    assert job.max_attempts == 4  # the first try and 3 retries
    for attempt, delay in enumerate((120, 240, 480), start=1):
        outcome = await runner.run(job.id)
        assert outcome.status is JobStatus.RETRYING
        assert outcome.run_at == at(clock, delay)
        assert dispatcher.sent[-1].eta == at(clock, delay)
        assert dispatcher.sent[-1].priority is Priority.LOW
        row = await store.get(job.id)
        assert row is not None
        assert (row.attempts, row.run_at) == (attempt, at(clock, delay))
        clock.advance(delay)
    sent = len(dispatcher.sent)
    final = await runner.run(job.id)
    assert final.status is JobStatus.FAILED
    row = await store.get(job.id)
    assert row is not None
    assert (row.status, row.attempts) == (JobStatus.FAILED, 4)
    assert row.error == "RuntimeError: upstream said no"
    assert len(dispatcher.sent) == sent  # nothing more to run


def test_backoff_doubles_past_the_configured_delays_and_jitter_stays_bounded() -> None:
    policy = RetryPolicy(max_retries=5)
    assert [policy.delay(n) for n in range(1, 6)] == [120, 240, 480, 960, 1920]
    assert policy.max_attempts == 6


async def test_retry_jitter_adds_at_most_its_share(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    async def broken(job: JobRecord) -> None:
        raise ValueError("x")

    policy = RetryPolicy(jitter=0.1)
    enqueuer, runner = stack(store, dispatcher, clock, broken, policy=policy, rng=random.Random(7))
    job = (await enqueuer.enqueue("scan", user_id="u1")).job
    outcome = await runner.run(job.id)
    assert outcome.run_at is not None
    assert at(clock, 120) <= outcome.run_at <= at(clock, 132)


async def test_a_ban_defers_to_its_end_without_using_an_attempt(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    retry_at = clock.time() + 22_000  # a day-long ban, as reported in the wild
    banned = True

    async def scan(job: JobRecord) -> str:
        if banned:
            raise UpstreamBanned("spotify:app", retry_at)
        return "ok"

    policy = RetryPolicy(ban_jitter=60)
    enqueuer, runner = stack(store, dispatcher, clock, scan, policy=policy)
    job = (await enqueuer.enqueue("scan", user_id="u1", priority=Priority.NORMAL)).job
    for _ in range(5):  # bans never exhaust the attempts
        outcome = await runner.run(job.id)
        assert outcome.status is JobStatus.DEFERRED
    row = await store.get(job.id)
    assert row is not None
    assert (row.status, row.attempts) == (JobStatus.DEFERRED, 0)
    ban_end = datetime.fromtimestamp(retry_at, UTC)
    assert ban_end <= row.run_at <= ban_end + timedelta(seconds=60)
    assert row.error is not None
    assert "banned" in row.error
    last = dispatcher.sent[-1]
    assert (last.eta, last.priority) == (row.run_at, Priority.NORMAL)

    banned = False
    clock.advance(22_060)
    assert (await runner.run(job.id)).status is JobStatus.SUCCEEDED
    done = await store.get(job.id)
    assert done is not None
    assert done.attempts == 1


async def test_no_slot_in_time_defers_by_the_limiters_hint(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    async def busy(job: JobRecord) -> None:
        raise SlotTimeout("spotify:app", max_wait=30, retry_after=12.5, reason="window full")

    enqueuer, runner = stack(store, dispatcher, clock, busy)
    job = (await enqueuer.enqueue("scan", user_id="u1")).job
    outcome = await runner.run(job.id)
    assert (outcome.status, outcome.run_at) == (JobStatus.DEFERRED, at(clock, 12.5))
    row = await store.get(job.id)
    assert row is not None
    assert row.attempts == 0


async def test_a_handler_can_ask_to_run_later_without_spending_an_attempt(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    async def not_yet(job: JobRecord) -> None:
        raise RunLater(clock.time() + 30, "computed 10 s ago")

    enqueuer, runner = stack(store, dispatcher, clock, not_yet)
    job = (await enqueuer.enqueue("scan", user_id="u1")).job
    outcome = await runner.run(job.id)
    assert (outcome.status, outcome.run_at) == (JobStatus.DEFERRED, at(clock, 30))
    row = await store.get(job.id)
    assert row is not None
    assert (row.attempts, row.error) == (0, "computed 10 s ago")
    assert dispatcher.sent[-1].eta == at(clock, 30)  # the same job comes back then


async def test_fatal_errors_and_unknown_kinds_fail_at_once(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    async def refused(job: JobRecord) -> None:
        raise PermissionError("token revoked")

    enqueuer, runner = stack(store, dispatcher, clock, refused, fatal=(PermissionError,))
    job = (await enqueuer.enqueue("scan", user_id="u1")).job
    assert (await runner.run(job.id)).status is JobStatus.FAILED

    orphan = JobRunner(store, {}, dispatcher, clock=clock)
    other = (await enqueuer.enqueue("scan", user_id="u2")).job
    outcome = await orphan.run(other.id)
    assert outcome.status is JobStatus.FAILED
    assert "no handler" in outcome.note
    assert (await runner.run("no-such-job")).note == "missing"


async def test_the_heartbeat_stamps_the_row_while_the_service_runs(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    beats: list[datetime] = []

    async def slow(job: JobRecord) -> None:
        for _ in range(5):
            clock.advance(10)
            await asyncio.sleep(0.02)
            row = await store.get(job.id)
            assert row is not None
            assert row.heartbeat_at is not None
            beats.append(row.heartbeat_at)

    enqueuer, runner = stack(store, dispatcher, clock, slow, heartbeat_interval=0.005)
    job = (await enqueuer.enqueue("scan", user_id="u1")).job
    assert (await runner.run(job.id)).status is JobStatus.SUCCEEDED
    assert beats[-1] > job.enqueued_at  # stamped with the clock, while the service ran


async def test_a_worker_that_lost_its_job_to_the_reaper_stops_and_records_nothing(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def stuck(job: JobRecord) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    enqueuer, runner = stack(store, dispatcher, clock, stuck, heartbeat_interval=0.005)
    job = (await enqueuer.enqueue("scan", user_id="u1")).job
    running = asyncio.create_task(runner.run(job.id))
    await started.wait()
    clock.advance(91)  # as if the heartbeats had not reached the store for 91 s
    reaped = await Reaper(store, dispatcher, stale_after=90, clock=clock).run_once()
    assert [r.id for r in reaped] == [job.id]
    outcome = await asyncio.wait_for(running, timeout=5)
    assert outcome.status is None
    assert "lost" in outcome.note
    assert cancelled.is_set()
    row = await store.get(job.id)
    assert row is not None
    assert (row.status, row.attempts) == (JobStatus.RETRYING, 1)  # for the next attempt


@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED])
async def test_only_claimable_jobs_start(
    store: MemoryJobStore,
    dispatcher: RecordingDispatcher,
    clock: FakeClock,
    status: JobStatus,
) -> None:
    calls = 0

    async def scan(job: JobRecord) -> None:
        nonlocal calls
        calls += 1

    enqueuer, runner = stack(store, dispatcher, clock, scan)
    job = (await enqueuer.enqueue("scan", user_id="u1")).job
    claimed = await store.mark_running(job.id, now=at(clock))
    assert claimed is not None
    if status is JobStatus.SUCCEEDED:
        await store.succeeded(job.id, 1, None, now=at(clock))
    elif status is JobStatus.FAILED:
        await store.failed(job.id, 1, "x", now=at(clock))
    assert (await runner.run(job.id)).status is None
    assert calls == 0
