"""`MemoryJobStore`: the job rows of one process, for tests and for embedded runs without a
database. All calls happen on one event loop and never await inside a transition, so each
transition is atomic without a lock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from backbeat.jobs.lifecycle import ACTIVE, CLAIMABLE, FINISHED, JobRecord, JobStatus, NewJob
from backbeat.ratelimit import Priority


class MemoryJobStore:
    def __init__(self, new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self._jobs: dict[str, JobRecord] = {}
        self._new_id = new_id

    def __len__(self) -> int:
        return len(self._jobs)

    async def create(self, job: NewJob, *, now: datetime) -> tuple[JobRecord, bool]:
        if job.dedupe_key is not None:
            for existing in self._jobs.values():
                if existing.dedupe_key == job.dedupe_key and existing.status in ACTIVE:
                    return existing, False
        record = JobRecord(
            id=self._new_id(),
            kind=job.kind,
            queue=job.queue,
            status=JobStatus.QUEUED,
            payload=dict(job.payload),
            user_id=job.user_id,
            priority=job.priority,
            dedupe_key=job.dedupe_key,
            attempts=0,
            max_attempts=job.max_attempts,
            run_at=job.run_at or now,
            enqueued_at=now,
        )
        self._jobs[record.id] = record
        return record, True

    async def get(self, job_id: str) -> JobRecord | None:
        return self._jobs.get(job_id)

    async def mark_running(self, job_id: str, *, now: datetime) -> JobRecord | None:
        job = self._jobs.get(job_id)
        if job is None or job.status not in CLAIMABLE:
            return None
        return self._put(
            job,
            status=JobStatus.RUNNING,
            attempts=job.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
        )

    async def heartbeat(self, job_id: str, attempt: int, *, now: datetime) -> bool:
        return self._move(job_id, attempt, heartbeat_at=now) is not None

    async def succeeded(self, job_id: str, attempt: int, result: Any, *, now: datetime) -> bool:
        changed = self._move(
            job_id, attempt, status=JobStatus.SUCCEEDED, result=result, error=None, finished_at=now
        )
        return changed is not None

    async def failed(self, job_id: str, attempt: int, error: str, *, now: datetime) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.status not in ACTIVE or job.attempts != attempt:
            return False
        self._put(job, status=JobStatus.FAILED, error=error, finished_at=now)
        return True

    async def retrying(
        self, job_id: str, attempt: int, error: str, *, run_at: datetime, now: datetime
    ) -> bool:
        changed = self._move(job_id, attempt, status=JobStatus.RETRYING, error=error, run_at=run_at)
        return changed is not None

    async def deferred(
        self, job_id: str, attempt: int, reason: str, *, run_at: datetime, now: datetime
    ) -> bool:
        changed = self._move(
            job_id,
            attempt,
            status=JobStatus.DEFERRED,
            error=reason,
            run_at=run_at,
            attempts=attempt - 1,
        )
        return changed is not None

    async def promote(
        self, job_id: str, priority: Priority, *, run_at: datetime, now: datetime
    ) -> JobRecord | None:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return None
        return self._put(job, priority=priority, run_at=run_at)

    async def stale_running(self, *, heartbeat_before: datetime, limit: int) -> list[JobRecord]:
        stale = [
            job
            for job in self._jobs.values()
            if job.status is JobStatus.RUNNING
            and (job.heartbeat_at is None or job.heartbeat_at < heartbeat_before)
        ]
        return sorted(stale, key=lambda job: job.heartbeat_at or job.enqueued_at)[:limit]

    async def overdue(self, *, run_before: datetime, limit: int) -> list[JobRecord]:
        late = [j for j in self._jobs.values() if j.status in CLAIMABLE and j.run_at < run_before]
        return sorted(late, key=lambda job: job.run_at)[:limit]

    async def resent(self, job_id: str, *, now: datetime) -> JobRecord | None:
        job = self._jobs.get(job_id)
        if job is None or job.status not in CLAIMABLE:
            return None
        return self._put(job, run_at=now)

    async def active_for(self, user_id: str, kind: str) -> JobRecord | None:
        for job in self._jobs.values():
            if job.user_id == user_id and job.kind == kind and job.status in ACTIVE:
                return job
        return None

    async def failed_since(self, since: datetime, *, limit: int) -> list[JobRecord]:
        failed = [
            job
            for job in self._jobs.values()
            if job.status is JobStatus.FAILED and job.finished_at and job.finished_at >= since
        ]
        return sorted(failed, key=lambda job: job.finished_at or since)[:limit]

    async def counts(self) -> dict[str, int]:
        return {
            status.value: sum(job.status is status for job in self._jobs.values())
            for status in JobStatus
        }

    async def purge_finished(self, *, before: datetime) -> int:
        old = [
            job.id
            for job in self._jobs.values()
            if job.status in FINISHED and job.finished_at and job.finished_at < before
        ]
        for job_id in old:
            del self._jobs[job_id]
        return len(old)

    def _move(self, job_id: str, attempt: int, **changes: Any) -> JobRecord | None:
        """Apply `changes` if the job is still running the given attempt."""
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.attempts != attempt:
            return None
        return self._put(job, **changes)

    def _put(self, job: JobRecord, **changes: Any) -> JobRecord:
        updated = replace(job, **changes)
        self._jobs[job.id] = updated
        return updated
