"""Listening: start an ingest of the caller's data (a background job) and read the snapshots."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from backbeat.api.auth import Caller, ServicesDep, limited
from backbeat.api.deps import JobRuntimeDep
from backbeat.db.models import ListeningSnapshot
from backbeat.domain.accounts import CurrentSession
from backbeat.domain.listening import get_snapshot, list_snapshots
from backbeat.jobs.tasks.listening import INGEST, ingest_key
from backbeat.ratelimit import Priority

router = APIRouter(prefix="/api/listening", tags=["listening"])

TimeRange = Literal["short_term", "medium_term", "long_term"]


class IngestRequest(BaseModel):
    time_range: TimeRange = "medium_term"


class Accepted(BaseModel):
    task_id: str = Field(description="poll GET /api/tasks/{task_id}")
    status: str


@router.post("/ingest", status_code=202)
async def ingest(
    request: IngestRequest,
    caller: Annotated[CurrentSession, limited("ingest")],
    jobs: JobRuntimeDep,
) -> Accepted:
    """Ingest the caller's listening data for a time range into today's snapshot, in the
    background. A second request while one is queued or running returns the same task."""
    ranges = [request.time_range]
    enqueued = await jobs.enqueuer.enqueue(
        INGEST,
        {"time_ranges": ranges},
        user_id=caller.user_id,
        priority=Priority.HIGH,  # someone is waiting for it
        dedupe=ingest_key(caller.user_id, ranges),
    )
    return Accepted(task_id=enqueued.job.id, status=enqueued.job.status.value)


class Snapshot(BaseModel):
    snapshot_id: str
    snapshot_date: date
    time_range: str
    track_count: int
    top_track_ids: list[str]
    top_artist_ids: list[str]
    genres: dict[str, Any]
    audio_features: dict[str, Any]
    features_source: str | None
    mood_patterns: dict[str, Any]
    genre_diversity: float | None
    artist_diversity: float | None
    mood_diversity: float | None
    updated_at: datetime

    @classmethod
    def of(cls, row: ListeningSnapshot) -> Snapshot:
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "snapshot_id"}
        return cls(snapshot_id=row.id, **fields)


@router.get("/snapshots")
async def snapshots(
    caller: Caller,
    found: ServicesDep,
    time_range: TimeRange | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
) -> list[Snapshot]:
    """The caller's snapshots, newest first."""
    rows = await list_snapshots(found.database, caller.user_id, time_range=time_range, limit=limit)
    return [Snapshot.of(row) for row in rows]


@router.get("/snapshots/{snapshot_id}")
async def snapshot(snapshot_id: str, caller: Caller, found: ServicesDep) -> Snapshot:
    return Snapshot.of(await get_snapshot(found.database, caller.user_id, snapshot_id))
