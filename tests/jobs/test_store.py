"""One suite for every job store: the memory one, and `background_jobs` on SQLite and Postgres.
The SQL store must hold its promises across connections, so races run on real transactions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backbeat.config import DatabaseSettings, SecuritySettings, Settings
from backbeat.db import migrations
from backbeat.db.engine import open_database
from backbeat.db.models import User
from backbeat.jobs import JobStatus, JobStore, MemoryJobStore, NewJob
from backbeat.jobs.sqlstore import SqlJobStore
from backbeat.ratelimit import Priority

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
USERS = ("u1", "u2")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
async def store(store_url: str | None, token_key: str) -> AsyncIterator[JobStore]:
    if store_url is None:
        yield MemoryJobStore()
        return
    url = store_url
    settings = Settings(
        environment="test",
        database=DatabaseSettings(url=url),
        security=SecuritySettings(token_keys=[token_key]),
    )
    async with open_database(settings) as db:
        await migrations.upgrade(db.engine)
        async with db.sessions() as session, session.begin():
            session.add_all(User(id=user, spotify_id=f"spotify-{user}") for user in USERS)
        yield SqlJobStore(db.sessions)


def scan(user: str = "u1", **changes: object) -> NewJob:
    fields: dict[str, object] = {
        "kind": "scan",
        "queue": "spotify",
        "payload": {"full": True},
        "user_id": user,
        "dedupe_key": f"scan:{user}",
    }
    return NewJob(**(fields | changes))  # type: ignore[arg-type]


async def test_create_reads_back_and_one_active_job_per_key(store: JobStore) -> None:
    job, created = await store.create(scan(priority=Priority.HIGH), now=T0)
    assert created
    assert (job.status, job.attempts, job.priority) == (JobStatus.QUEUED, 0, Priority.HIGH)
    assert job.run_at == job.enqueued_at == T0
    assert await store.get(job.id) == job

    again, created = await store.create(scan(), now=T0 + timedelta(seconds=1))
    assert (again.id, created) == (job.id, False)
    other, created = await store.create(scan("u2"), now=T0)
    assert created
    assert other.id != job.id

    running = await store.mark_running(job.id, now=T0)
    assert running is not None
    assert await store.succeeded(job.id, running.attempts, {"tracks": 3}, now=T0)
    fresh, created = await store.create(scan(), now=T0)  # a finished job frees its key
    assert created
    assert fresh.id != job.id


async def test_jobs_without_a_key_run_side_by_side(store: JobStore) -> None:
    first, _ = await store.create(scan(dedupe_key=None), now=T0)
    second, created = await store.create(scan(dedupe_key=None), now=T0)
    assert created
    assert first.id != second.id


async def test_transitions_are_fenced_by_the_attempt(store: JobStore) -> None:
    job, _ = await store.create(scan(), now=T0)
    assert not await store.heartbeat(job.id, 0, now=T0)  # not running yet
    first = await store.mark_running(job.id, now=T0)
    assert first is not None
    assert (first.status, first.attempts, first.started_at) == (JobStatus.RUNNING, 1, T0)
    assert await store.mark_running(job.id, now=T0) is None  # running: nobody else claims it

    later = T0 + timedelta(minutes=5)
    assert await store.retrying(job.id, 1, "worker lost", run_at=later, now=later)  # the reaper
    second = await store.mark_running(job.id, now=later)
    assert second is not None
    assert second.attempts == 2

    # The first worker wakes up: none of its writes land.
    assert not await store.heartbeat(job.id, 1, now=later)
    assert not await store.succeeded(job.id, 1, "stale", now=later)
    assert not await store.retrying(job.id, 1, "stale", run_at=later, now=later)
    assert not await store.deferred(job.id, 1, "stale", run_at=later, now=later)

    assert await store.heartbeat(job.id, 2, now=later + timedelta(seconds=15))
    assert await store.succeeded(job.id, 2, {"ok": True}, now=later + timedelta(seconds=20))
    done = await store.get(job.id)
    assert done is not None
    assert (done.status, done.result, done.error) == (JobStatus.SUCCEEDED, {"ok": True}, None)
    assert done.heartbeat_at == later + timedelta(seconds=15)
    assert done.finished_at == later + timedelta(seconds=20)
    assert not await store.failed(job.id, 2, "too late", now=later)  # finished is final


async def test_deferral_gives_the_attempt_back(store: JobStore) -> None:
    job, _ = await store.create(scan(), now=T0)
    await store.mark_running(job.id, now=T0)
    ban_end = T0 + timedelta(hours=20)
    assert await store.deferred(job.id, 1, "banned", run_at=ban_end, now=T0)
    deferred = await store.get(job.id)
    assert deferred is not None
    assert (deferred.status, deferred.attempts, deferred.run_at) == (JobStatus.DEFERRED, 0, ban_end)
    assert deferred.error == "banned"
    again, created = await store.create(scan(), now=T0)  # deferred is still active
    assert (again.id, created) == (job.id, False)


async def test_failing_a_queued_job_frees_its_key(store: JobStore) -> None:
    job, _ = await store.create(scan(), now=T0)
    assert not await store.failed(job.id, 1, "wrong attempt", now=T0)
    assert await store.failed(job.id, 0, "could not enqueue", now=T0)
    assert (await store.active_for("u1", "scan")) is None
    _, created = await store.create(scan(), now=T0)
    assert created


async def test_promotion_only_while_queued(store: JobStore) -> None:
    job, _ = await store.create(scan(run_at=T0 + timedelta(hours=3)), now=T0)
    promoted = await store.promote(job.id, Priority.HIGH, run_at=T0, now=T0)
    assert promoted is not None
    assert (promoted.priority, promoted.run_at) == (Priority.HIGH, T0)
    await store.mark_running(job.id, now=T0)
    assert await store.promote(job.id, Priority.HIGH, run_at=T0, now=T0) is None


async def test_queries_for_the_reaper_the_monitor_and_the_cleanup(store: JobStore) -> None:
    stale, _ = await store.create(scan("u1"), now=T0)
    alive, _ = await store.create(scan("u2"), now=T0)
    await store.mark_running(stale.id, now=T0)
    await store.mark_running(alive.id, now=T0)
    await store.heartbeat(alive.id, 1, now=T0 + timedelta(minutes=2))
    found = await store.stale_running(heartbeat_before=T0 + timedelta(minutes=1), limit=10)
    assert [job.id for job in found] == [stale.id]
    active = await store.active_for("u1", "scan")
    assert active is not None
    assert active.id == stale.id

    await store.failed(stale.id, 1, "boom", now=T0 + timedelta(days=1))
    await store.succeeded(alive.id, 1, None, now=T0 + timedelta(days=40))
    failed = await store.failed_since(T0 + timedelta(hours=1), limit=10)
    assert [job.id for job in failed] == [stale.id]
    assert await store.failed_since(T0 + timedelta(days=2), limit=10) == []

    queued, _ = await store.create(scan("u1"), now=T0)
    assert await store.purge_finished(before=T0 + timedelta(days=30)) == 1  # the old failure
    assert await store.get(stale.id) is None
    assert await store.get(alive.id) is not None
    assert await store.get(queued.id) is not None  # active jobs are never purged


async def test_racing_claims_and_creates_have_one_winner(store: JobStore) -> None:
    created = await asyncio.gather(*(store.create(scan(), now=T0) for _ in range(10)))
    assert sum(new for _, new in created) == 1
    assert len({job.id for job, _ in created}) == 1
    job = created[0][0]
    claims = await asyncio.gather(*(store.mark_running(job.id, now=T0) for _ in range(10)))
    winners = [claim for claim in claims if claim is not None]
    assert len(winners) == 1
    assert winners[0].attempts == 1


async def test_overdue_waiting_jobs_and_their_resending(store: JobStore) -> None:
    early, _ = await store.create(scan("u1"), now=T0)
    late, _ = await store.create(scan("u2", run_at=T0 + timedelta(hours=2)), now=T0)
    found = await store.overdue(run_before=T0 + timedelta(hours=1), limit=10)
    assert [job.id for job in found] == [early.id]
    resent = await store.resent(early.id, now=T0 + timedelta(hours=1))
    assert resent is not None
    assert resent.run_at == T0 + timedelta(hours=1)
    await store.mark_running(late.id, now=T0)
    assert await store.resent(late.id, now=T0) is None  # running: not waiting any more
