"""The reaper gives jobs of dead workers back: Huey delivers at most once, the row does not."""

from __future__ import annotations

from datetime import UTC, datetime

from backbeat.clock import FakeClock
from backbeat.jobs import JobStatus, MemoryJobStore, NewJob, Reaper
from backbeat.ratelimit import Priority
from tests.jobs.fakes import RecordingDispatcher


def now(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.time(), UTC)


async def started(
    store: MemoryJobStore,
    clock: FakeClock,
    *,
    user_id: str | None = None,
    priority: Priority = Priority.NORMAL,
    max_attempts: int = 4,
) -> str:
    new = NewJob("ingest", "spotify", {}, user_id, priority, max_attempts=max_attempts)
    job, _ = await store.create(new, now=now(clock))
    assert await store.mark_running(job.id, now=now(clock)) is not None
    return job.id


async def test_a_stale_job_is_re_enqueued_with_its_priority(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    killed = await started(store, clock, user_id="u1", priority=Priority.HIGH)
    clock.advance(60)
    alive = await started(store, clock, user_id="u2")
    clock.advance(31)  # killed: 91 s without a beat; alive: 31 s
    reaper = Reaper(store, dispatcher, stale_after=90, clock=clock)
    assert [job.id for job in await reaper.run_once()] == [killed]
    row = await store.get(killed)
    assert row is not None
    assert (row.status, row.attempts, row.run_at) == (JobStatus.RETRYING, 1, now(clock))
    assert row.error is not None
    assert row.error.startswith("worker lost")
    [sent] = dispatcher.sent
    assert (sent.job_id, sent.queue, sent.priority, sent.eta) == (
        killed,
        "spotify",
        Priority.HIGH,
        None,
    )
    still = await store.get(alive)
    assert still is not None
    assert still.status is JobStatus.RUNNING
    assert await reaper.run_once() == []  # nothing twice

    # The next attempt runs; the dead attempt can no longer record anything.
    again = await store.mark_running(killed, now=now(clock))
    assert again is not None
    assert again.attempts == 2
    assert not await store.succeeded(killed, 1, "late", now=now(clock))
    assert await store.succeeded(killed, 2, "ok", now=now(clock))


async def test_a_job_that_keeps_killing_its_worker_fails_in_the_end(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    job_id = await started(store, clock, max_attempts=1)
    clock.advance(200)
    assert await Reaper(store, dispatcher, stale_after=90, clock=clock).run_once() == []
    row = await store.get(job_id)
    assert row is not None
    assert row.status is JobStatus.FAILED
    assert dispatcher.sent == []


async def test_a_waiting_job_whose_message_was_lost_is_sent_again(
    store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    lost, _ = await store.create(NewJob("ingest", "spotify", {}, "u1"), now=now(clock))
    clock.advance(1800)
    recent, _ = await store.create(NewJob("ingest", "spotify", {}, "u2"), now=now(clock))
    clock.advance(1801)  # lost: an hour past its start with no worker taking it
    reaper = Reaper(store, dispatcher, stale_after=90, overdue_after=3600, clock=clock)
    assert [job.id for job in await reaper.run_once()] == [lost.id]
    assert [sent.job_id for sent in dispatcher.sent] == [lost.id]
    row = await store.get(lost.id)
    assert row is not None
    assert (row.status, row.run_at) == (JobStatus.QUEUED, now(clock))
    assert await reaper.run_once() == []  # not again until it is overdue once more
    assert (await store.get(recent.id)) is not None
