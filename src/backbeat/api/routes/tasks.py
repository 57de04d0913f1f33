"""`GET /api/tasks/{id}`: a background job's state, for clients polling what they started.

Job ids are random UUIDs handed only to whoever enqueued the job.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from backbeat.api.deps import JobStoreDep
from backbeat.jobs.lifecycle import JobRecord, JobStatus

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


class Task(BaseModel):
    task_id: str
    kind: str
    queue: str
    status: JobStatus
    user_id: str | None
    priority: str
    attempts: int
    max_attempts: int
    enqueued_at: datetime
    run_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: Any

    @classmethod
    def of(cls, job: JobRecord) -> Task:
        # The job's own fields, less its payload and dedupe key (internal); priority by name.
        fields = asdict(job) | {"task_id": job.id, "priority": job.priority.name.lower()}
        return cls.model_validate(fields)


@router.get("/{task_id}", responses={404: {"description": "no such task"}})
async def get_task(task_id: str, store: JobStoreDep) -> Task:
    job = await store.get(task_id)
    if job is None:
        raise HTTPException(404, f"no task {task_id!r}")
    return Task.of(job)
