"""A job's life, as stored: one row per job (`background_jobs`), behind the `JobStore` Protocol.

    queued ──▶ running ──▶ succeeded
       ▲          │ ├────▶ retrying ──▶ running …   (an error; attempts left)
       │          │ ├────▶ deferred ──▶ running …   (upstream ban / no slot; no attempt used)
       └ promote  │ └────▶ failed                   (no attempts left)

The row is the truth and a Huey message is only a hint to look at it: a message for a job that is
running elsewhere or already finished does nothing, so duplicate messages (a reaper re-enqueue, a
promoted job's old message) are harmless. Every transition out of `running` is fenced by the
attempt number it was started with: a worker that lost its job to the reaper cannot overwrite
the newer attempt's outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from backbeat.clock import Clock
from backbeat.db.models.jobs import ACTIVE_JOB_STATUSES, FINISHED_JOB_STATUSES
from backbeat.errors import BackbeatError
from backbeat.ratelimit import Priority


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRYING = "retrying"
    DEFERRED = "deferred"


# Active jobs block a second job with the same dedupe key (the table's partial unique index says
# which statuses are active); claimable ones may start running.
ACTIVE = frozenset(JobStatus(status) for status in ACTIVE_JOB_STATUSES)
FINISHED = frozenset(JobStatus(status) for status in FINISHED_JOB_STATUSES)
CLAIMABLE = ACTIVE - {JobStatus.RUNNING}


@dataclass(frozen=True, slots=True)
class NewJob:
    kind: str
    queue: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    priority: Priority = Priority.NORMAL
    dedupe_key: str | None = None
    max_attempts: int = 4
    run_at: datetime | None = None  # None: now


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    kind: str
    queue: str
    status: JobStatus
    payload: Mapping[str, Any]
    user_id: str | None
    priority: Priority
    dedupe_key: str | None
    attempts: int
    max_attempts: int
    run_at: datetime
    enqueued_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    error: str | None = None  # the last error, or why the job was deferred
    result: Any = None  # JSON


Handler = Callable[[JobRecord], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class JobKind:
    """What a job of this kind runs and where. `per_user` jobs take a user-processing slot."""

    name: str
    queue: str
    handler: Handler
    per_user: bool = True


class RunLater(Exception):
    """Raised by a handler whose work is not due yet (e.g. a leaderboard computed too recently):
    the job waits, deferred, until `retry_at` (epoch seconds) and keeps its attempt."""

    def __init__(self, retry_at: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_at = retry_at
        self.reason = reason


class UnknownJobKind(BackbeatError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"no job kind {kind!r} is registered")
        self.kind = kind


def now_utc(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.time(), UTC)


class JobStore(Protocol):
    """Where job rows live. Methods that take `attempt` change a row only while it is `running`
    with that attempt number (`failed` also accepts any active row), and say whether they did."""

    async def create(self, job: NewJob, *, now: datetime) -> tuple[JobRecord, bool]:
        """Insert a queued job, or return the active job holding the same `dedupe_key` and
        False. The database version makes this atomic (a unique index over active rows)."""
        ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def mark_running(self, job_id: str, *, now: datetime) -> JobRecord | None:
        """Claim a claimable job: attempts + 1, started_at and heartbeat_at = now. None when the
        job is missing, running elsewhere or finished."""
        ...

    async def heartbeat(self, job_id: str, attempt: int, *, now: datetime) -> bool: ...

    async def succeeded(self, job_id: str, attempt: int, result: Any, *, now: datetime) -> bool: ...

    async def failed(self, job_id: str, attempt: int, error: str, *, now: datetime) -> bool: ...

    async def retrying(
        self, job_id: str, attempt: int, error: str, *, run_at: datetime, now: datetime
    ) -> bool: ...

    async def deferred(
        self, job_id: str, attempt: int, reason: str, *, run_at: datetime, now: datetime
    ) -> bool:
        """Back to waiting until `run_at`, giving the attempt back (attempts - 1)."""
        ...

    async def promote(
        self, job_id: str, priority: Priority, *, run_at: datetime, now: datetime
    ) -> JobRecord | None:
        """A more urgent request for a still-queued job: new priority and run_at. None when the
        job is no longer queued."""
        ...

    async def stale_running(self, *, heartbeat_before: datetime, limit: int) -> list[JobRecord]: ...

    async def overdue(self, *, run_before: datetime, limit: int) -> list[JobRecord]:
        """Waiting (claimable) jobs that should have started before `run_before`."""
        ...

    async def resent(self, job_id: str, *, now: datetime) -> JobRecord | None:
        """A waiting job whose message is sent again: run_at = now (so it is not resent again
        before it is overdue once more). None when it started or finished meanwhile."""
        ...

    async def active_for(self, user_id: str, kind: str) -> JobRecord | None: ...

    async def failed_since(self, since: datetime, *, limit: int) -> list[JobRecord]: ...

    async def counts(self) -> dict[str, int]:
        """Jobs by status, every status present."""
        ...

    async def purge_finished(self, *, before: datetime) -> int:
        """Delete succeeded and failed jobs finished before `before`; return how many."""
        ...


class Dispatcher(Protocol):
    """Hands a job to its queue: `JobQueues` in production, a recorder in tests."""

    async def dispatch(
        self, job: JobRecord, *, priority: Priority | None = None, eta: datetime | None = None
    ) -> None:
        """Enqueue a message for `job` (at `priority`, default the job's), run at `eta` or now."""
        ...
