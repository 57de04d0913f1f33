"""Insights: generate one from a snapshot of the caller's (a background job), read them back."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from backbeat.api.auth import Caller, ServicesDep, limited
from backbeat.api.deps import JobRuntimeDep
from backbeat.api.routes.listening import Accepted
from backbeat.domain.accounts import CurrentSession
from backbeat.domain.insights import StoredInsight, resolve
from backbeat.domain.listening import get_snapshot, list_snapshots
from backbeat.errors import InvalidRequest
from backbeat.jobs.tasks.insights import GENERATE
from backbeat.ratelimit import Priority

router = APIRouter(prefix="/api/insights", tags=["insights"])

InsightType = Literal["wellness", "roast", "productivity", "weekly_summary"]


class GenerateRequest(BaseModel):
    insight_type: InsightType
    tone_mode: str | None = Field(
        default=None,
        max_length=32,
        description="wellness: supportive|neutral|direct; roast: gentle|savage; "
        "productivity: coach|neutral; default: the first",
    )
    snapshot_id: str | None = Field(
        default=None, max_length=36, description="default: the caller's latest snapshot"
    )


@router.post("/generate", status_code=202)
async def generate(
    request: GenerateRequest,
    caller: Annotated[CurrentSession, limited("insights")],
    found: ServicesDep,
    jobs: JobRuntimeDep,
) -> Accepted:
    """Write an insight from a snapshot, in the background (poll the task for `insight_id`)."""
    spec, tone = resolve(request.insight_type, request.tone_mode)  # an unknown tone: 422 now
    if request.snapshot_id is not None:
        snapshot_id = (await get_snapshot(found.database, caller.user_id, request.snapshot_id)).id
    else:
        latest = await list_snapshots(found.database, caller.user_id, limit=1)
        if not latest:
            raise InvalidRequest("snapshot_id", "no snapshot yet: POST /api/listening/ingest")
        snapshot_id = latest[0].id
    enqueued = await jobs.enqueuer.enqueue(
        GENERATE,
        {"snapshot_id": snapshot_id, "insight_type": spec.insight_type, "tone_mode": tone},
        user_id=caller.user_id,
        priority=Priority.HIGH,
        dedupe=f"{snapshot_id}:{spec.insight_type}:{tone}",
    )
    return Accepted(task_id=enqueued.job.id, status=enqueued.job.status.value)


class Insight(BaseModel):
    insight_id: str
    snapshot_id: str | None
    insight_type: str
    tone: str
    provider: str
    model: str
    prompt_version: str
    content: dict[str, Any]
    generation_ms: int | None
    created_at: datetime

    @classmethod
    def of(cls, stored: StoredInsight) -> Insight:
        fields = asdict(stored)
        fields.pop("user_id")
        return cls(insight_id=fields.pop("id"), **fields)


@router.get("/{insight_id}")
async def insight(insight_id: str, caller: Caller, found: ServicesDep) -> Insight:
    return Insight.of(await found.insights.get(caller.user_id, insight_id))


@router.get("")
async def insights(
    caller: Caller,
    found: ServicesDep,
    insight_type: InsightType | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[Insight]:
    """The caller's insights, newest first."""
    stored = await found.insights.recent(caller.user_id, insight_type=insight_type, limit=limit)
    return [Insight.of(item) for item in stored]
