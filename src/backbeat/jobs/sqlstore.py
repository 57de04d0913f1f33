"""`SqlJobStore`: job rows in `background_jobs`, shared by every process that opens the database.

Each transition is one conditional UPDATE (`WHERE id = … AND status = 'running' AND attempts =
…`), so two processes racing for a job — a slow worker and the reaper, two messages of a
promoted job — cannot both win: the database decides, and the loser sees no row changed.
One active job per dedupe key is the partial unique index's job: a second insert raises
IntegrityError, and `create` answers with the row that holds the key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbeat.db.models import BackgroundJob
from backbeat.jobs.lifecycle import ACTIVE, CLAIMABLE, FINISHED, JobRecord, JobStatus, NewJob
from backbeat.ratelimit import Priority

_ACTIVE = [status.value for status in ACTIVE]
_CLAIMABLE = [status.value for status in CLAIMABLE]
_FINISHED = [status.value for status in FINISHED]


class SqlJobStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, job: NewJob, *, now: datetime) -> tuple[JobRecord, bool]:
        row = BackgroundJob(
            kind=job.kind,
            queue=job.queue,
            user_id=job.user_id,
            dedupe_key=job.dedupe_key,
            status=JobStatus.QUEUED.value,
            priority=int(job.priority),
            attempts=0,
            max_attempts=job.max_attempts,
            payload=dict(job.payload),
            run_at=job.run_at or now,
            enqueued_at=now,
        )
        # The holder of the key may finish between our failed insert and the lookup: try again.
        for _ in range(3):
            try:
                async with self._sessions() as session, session.begin():
                    session.add(row)
                return _record(row), True
            except IntegrityError:
                if job.dedupe_key is None:
                    raise  # not a dedupe conflict (an unknown user, say)
                holder = await self._one(
                    select(BackgroundJob).where(
                        BackgroundJob.dedupe_key == job.dedupe_key,
                        BackgroundJob.status.in_(_ACTIVE),
                    )
                )
                if holder is not None:
                    return holder, False
                row = _fresh_copy(row)
        raise RuntimeError(f"could not create a job for dedupe key {job.dedupe_key!r}")

    async def get(self, job_id: str) -> JobRecord | None:
        return await self._one(select(BackgroundJob).where(BackgroundJob.id == job_id))

    async def mark_running(self, job_id: str, *, now: datetime) -> JobRecord | None:
        return await self._update_returning(
            and_(BackgroundJob.id == job_id, BackgroundJob.status.in_(_CLAIMABLE)),
            status=JobStatus.RUNNING.value,
            attempts=BackgroundJob.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
        )

    async def heartbeat(self, job_id: str, attempt: int, *, now: datetime) -> bool:
        return await self._move(job_id, attempt, heartbeat_at=now)

    async def succeeded(self, job_id: str, attempt: int, result: Any, *, now: datetime) -> bool:
        return await self._move(
            job_id,
            attempt,
            status=JobStatus.SUCCEEDED.value,
            result=result,
            error=None,
            finished_at=now,
        )

    async def failed(self, job_id: str, attempt: int, error: str, *, now: datetime) -> bool:
        return await self._update(
            and_(
                BackgroundJob.id == job_id,
                BackgroundJob.status.in_(_ACTIVE),
                BackgroundJob.attempts == attempt,
            ),
            status=JobStatus.FAILED.value,
            error=error,
            finished_at=now,
        )

    async def retrying(
        self, job_id: str, attempt: int, error: str, *, run_at: datetime, now: datetime
    ) -> bool:
        return await self._move(
            job_id, attempt, status=JobStatus.RETRYING.value, error=error, run_at=run_at
        )

    async def deferred(
        self, job_id: str, attempt: int, reason: str, *, run_at: datetime, now: datetime
    ) -> bool:
        return await self._move(
            job_id,
            attempt,
            status=JobStatus.DEFERRED.value,
            error=reason,
            run_at=run_at,
            attempts=attempt - 1,
        )

    async def promote(
        self, job_id: str, priority: Priority, *, run_at: datetime, now: datetime
    ) -> JobRecord | None:
        return await self._update_returning(
            and_(BackgroundJob.id == job_id, BackgroundJob.status == JobStatus.QUEUED.value),
            priority=int(priority),
            run_at=run_at,
        )

    async def stale_running(self, *, heartbeat_before: datetime, limit: int) -> list[JobRecord]:
        return await self._all(
            select(BackgroundJob)
            .where(
                BackgroundJob.status == JobStatus.RUNNING.value,
                or_(
                    BackgroundJob.heartbeat_at.is_(None),
                    BackgroundJob.heartbeat_at < heartbeat_before,
                ),
            )
            .order_by(BackgroundJob.heartbeat_at)
            .limit(limit)
        )

    async def overdue(self, *, run_before: datetime, limit: int) -> list[JobRecord]:
        return await self._all(
            select(BackgroundJob)
            .where(BackgroundJob.status.in_(_CLAIMABLE), BackgroundJob.run_at < run_before)
            .order_by(BackgroundJob.run_at)
            .limit(limit)
        )

    async def resent(self, job_id: str, *, now: datetime) -> JobRecord | None:
        return await self._update_returning(
            and_(BackgroundJob.id == job_id, BackgroundJob.status.in_(_CLAIMABLE)), run_at=now
        )

    async def active_for(self, user_id: str, kind: str) -> JobRecord | None:
        return await self._one(
            select(BackgroundJob).where(
                BackgroundJob.user_id == user_id,
                BackgroundJob.kind == kind,
                BackgroundJob.status.in_(_ACTIVE),
            )
        )

    async def failed_since(self, since: datetime, *, limit: int) -> list[JobRecord]:
        return await self._all(
            select(BackgroundJob)
            .where(
                BackgroundJob.status == JobStatus.FAILED.value,
                BackgroundJob.finished_at >= since,
            )
            .order_by(BackgroundJob.finished_at)
            .limit(limit)
        )

    async def counts(self) -> dict[str, int]:
        """Jobs by status (every status present, zeros included)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(BackgroundJob.status, func.count()).group_by(BackgroundJob.status)
            )
            found = {status: int(count) for status, count in rows.all()}
        return {status.value: found.get(status.value, 0) for status in JobStatus}

    async def purge_finished(self, *, before: datetime) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(BackgroundJob).where(
                    BackgroundJob.status.in_(_FINISHED), BackgroundJob.finished_at < before
                )
            )
        return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult

    async def _move(self, job_id: str, attempt: int, **values: Any) -> bool:
        """Apply `values` if the job is still running the given attempt."""
        return await self._update(
            and_(
                BackgroundJob.id == job_id,
                BackgroundJob.status == JobStatus.RUNNING.value,
                BackgroundJob.attempts == attempt,
            ),
            **values,
        )

    async def _update(self, where: ColumnElement[bool], **values: Any) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(BackgroundJob).where(where).values(**values),
                execution_options={"synchronize_session": False},
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult

    async def _update_returning(
        self, where: ColumnElement[bool], **values: Any
    ) -> JobRecord | None:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(BackgroundJob).where(where).values(**values).returning(BackgroundJob),
                execution_options={"synchronize_session": False},
            )
            row = result.scalar_one_or_none()
            return _record(row) if row is not None else None

    async def _one(self, query: Select[BackgroundJob]) -> JobRecord | None:
        async with self._sessions() as session:
            row = (await session.execute(query.limit(1))).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def _all(self, query: Select[BackgroundJob]) -> list[JobRecord]:
        async with self._sessions() as session:
            return [_record(row) for row in (await session.scalars(query)).all()]


_COPIED = [name for name in JobRecord.__dataclass_fields__ if name not in ("status", "priority")]


def _record(row: BackgroundJob) -> JobRecord:
    copied = {name: getattr(row, name) for name in _COPIED}
    return JobRecord(status=JobStatus(row.status), priority=Priority(row.priority), **copied)


def _fresh_copy(row: BackgroundJob) -> BackgroundJob:
    # A row whose insert failed stays attached to its failed transaction's history; start anew.
    columns = BackgroundJob.__table__.columns.keys()
    return BackgroundJob(**{name: getattr(row, name) for name in columns if name != "id"})
