"""`GET /api/tasks/{id}`: a background job's state, for clients polling what they started.

A task belongs to the user it runs for; anyone else is told it does not exist.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from backbeat.api.auth import Caller
from backbeat.api.deps import JobStoreDep
from backbeat.errors import NotFound
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


@router.get("/{task_id}", responses={404: {"description": "no such task of the caller's"}})
async def get_task(task_id: str, store: JobStoreDep, caller: Caller) -> Task:
    """A job the caller started (or one run for them): its status, result and error."""
    job = await store.get(task_id)
    if job is None or job.user_id != caller.user_id:  # another user's task does not exist
        raise NotFound("task", task_id)
    return Task.of(job)
