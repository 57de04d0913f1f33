"""Enqueueing: one active job per user and kind, promotion, and a fan-out spread by the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backbeat.clock import FakeClock
from backbeat.jobs import (
    Enqueuer,
    JobKind,
    JobRecord,
    JobStatus,
    MemoryJobStore,
    UnknownJobKind,
    spread_interval,
)
from backbeat.ratelimit import Priority
from tests.jobs.fakes import RecordingDispatcher


async def _noop(job: JobRecord) -> None:
    return None


KINDS = {
    "ingest": JobKind("ingest", "spotify", _noop),
    "insight": JobKind("insight", "insights", _noop),
    "leaderboard": JobKind("leaderboard", "leaderboard", _noop, per_user=False),
}


@pytest.fixture
def enqueuer(store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock) -> Enqueuer:
    return Enqueuer(store, dispatcher, KINDS, clock=clock)


def now(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.time(), UTC)


async def test_one_active_job_per_user_and_kind(
    enqueuer: Enqueuer, store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    first = await enqueuer.enqueue("ingest", user_id="u1")
    second = await enqueuer.enqueue("ingest", {"other": "payload"}, user_id="u1")
    assert first.created
    assert not second.created
    assert second.job.id == first.job.id
    assert await store.active_for("u1", "ingest") == first.job
    assert len(dispatcher.sent) == 1  # one message, not two

    # Another kind, or another user, is another job.
    assert (await enqueuer.enqueue("insight", user_id="u1")).created
    assert (await enqueuer.enqueue("ingest", user_id="u2")).created

    # Once the job is done, a new one may start.
    running = await store.mark_running(first.job.id, now=now(clock))
    assert running is not None
    assert not (await enqueuer.enqueue("ingest", user_id="u1")).created  # running is active
    await store.succeeded(first.job.id, 1, None, now=now(clock))
    assert await store.active_for("u1", "ingest") is None
    again = await enqueuer.enqueue("ingest", user_id="u1")
    assert again.created
    assert again.job.id != first.job.id


async def test_custom_dedupe_keys_and_none(enqueuer: Enqueuer) -> None:
    a = await enqueuer.enqueue("leaderboard", {"artist": "a1"}, dedupe="artist:a1")
    b = await enqueuer.enqueue("leaderboard", {"artist": "a1"}, dedupe="artist:a1")
    c = await enqueuer.enqueue("leaderboard", {"artist": "a2"}, dedupe="artist:a2")
    assert b.job.id == a.job.id
    assert c.job.id != a.job.id
    free = [await enqueuer.enqueue("ingest", user_id="u1", dedupe=False) for _ in range(2)]
    assert all(result.created for result in free)


async def test_a_manual_trigger_promotes_the_queued_scan(
    enqueuer: Enqueuer, store: MemoryJobStore, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    tonight = now(clock) + timedelta(hours=5)
    scan = await enqueuer.enqueue("ingest", user_id="u1", run_at=tonight)
    assert dispatcher.sent[-1].eta == tonight
    manual = await enqueuer.enqueue("ingest", user_id="u1", priority=Priority.HIGH)
    assert not manual.created
    assert manual.job.id == scan.job.id
    assert (manual.job.priority, manual.job.run_at) == (Priority.HIGH, now(clock))
    assert dispatcher.sent[-1].priority is Priority.HIGH
    assert dispatcher.sent[-1].eta is None  # now

    # A less urgent request changes nothing.
    sent = len(dispatcher.sent)
    await enqueuer.enqueue("ingest", user_id="u1", priority=Priority.LOW)
    assert len(dispatcher.sent) == sent


async def test_fan_out_spreads_over_calls_times_jobs_over_rate(
    enqueuer: Enqueuer, dispatcher: RecordingDispatcher, clock: FakeClock
) -> None:
    await enqueuer.enqueue("ingest", user_id="u3")  # already active: keeps its job, no slot
    dispatcher.sent.clear()
    users = [f"u{n}" for n in range(10)]
    # 30 calls per user at 2 calls/s: one user every 15 s, ten users over 150 s.
    results = await enqueuer.enqueue_batch(users, "ingest", calls_per_job=30, rate_per_second=2)
    assert [r.created for r in results] == [n != 3 for n in range(10)]
    start = now(clock)
    etas = [sent.eta for sent in dispatcher.sent]
    assert etas[0] is None  # the first starts now
    assert etas[1:] == [start + timedelta(seconds=15 * n) for n in range(1, 9)]
    created = [r.job for r in results if r.created]
    assert created[-1].run_at - created[0].run_at == timedelta(seconds=15 * 8)
    assert {sent.priority for sent in dispatcher.sent} == {Priority.NORMAL}


def test_the_spread_follows_the_budget_not_a_fixed_stagger() -> None:
    # Half of Spotify's 80 calls per 30 s for batch work, 30 calls per user.
    interval = spread_interval(calls_per_job=30, rate_per_second=80 / 30 * 0.5)
    assert interval == pytest.approx(22.5)
    assert 1000 * interval / 3600 == pytest.approx(6.25)  # 1000 users: 6.25 h, not 8.3
    with pytest.raises(ValueError, match="positive"):
        spread_interval(30, 0)


async def test_unknown_kinds_are_refused(enqueuer: Enqueuer) -> None:
    with pytest.raises(UnknownJobKind, match="nope"):
        await enqueuer.enqueue("nope")


async def test_a_job_whose_message_could_not_be_sent_does_not_block_its_key(
    store: MemoryJobStore, clock: FakeClock
) -> None:
    class Down:
        async def dispatch(self, job: JobRecord, **options: object) -> None:
            raise ConnectionError("redis is gone")

    enqueuer = Enqueuer(store, Down(), KINDS, clock=clock)
    with pytest.raises(ConnectionError):
        await enqueuer.enqueue("ingest", user_id="u1")
    assert await store.active_for("u1", "ingest") is None
    [job] = await store.failed_since(now(clock), limit=10)
    assert job.status is JobStatus.FAILED
    assert "could not enqueue" in (job.error or "")
