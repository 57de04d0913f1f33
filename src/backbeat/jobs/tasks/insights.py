"""Insight jobs: one insight from a snapshot (on the insights queue, away from Spotify work),
and the Sunday weekly summary for every user with a recent snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backbeat.jobs.lifecycle import JobKind, JobRecord
from backbeat.jobs.runtime import Contribution, JobContext
from backbeat.jobs.tasks.context import services_of

GENERATE = "generate_insight"
WEEKLY = "weekly_summary"
ACTIVE_WITHIN = timedelta(days=7)  # a summary needs listening data from the week it sums up


def contribute(context: JobContext) -> Contribution:
    services = services_of(context)

    async def generate(job: JobRecord) -> dict[str, Any]:
        assert job.user_id is not None
        insight_id = await services.insights.generate(
            job.user_id,
            job.payload["snapshot_id"],
            job.payload["insight_type"],
            job.payload.get("tone_mode"),
        )
        return {"insight_id": insight_id}

    async def weekly(job: JobRecord) -> dict[str, Any]:
        assert job.user_id is not None
        latest = await services.insights.latest_snapshot(job.user_id, "short_term")
        latest = latest or await services.insights.latest_snapshot(job.user_id)
        today = datetime.fromtimestamp(services.clock.time(), UTC).date()
        if (
            latest is None
            or not latest.snapshot_date
            or latest.snapshot_date < today - ACTIVE_WITHIN
        ):
            return {"skipped": "no snapshot in the last 7 days"}
        insight_id = await services.insights.generate(job.user_id, latest.snapshot_id, WEEKLY)
        return {"insight_id": insight_id, "snapshot_id": latest.snapshot_id}

    async def weekly_summaries() -> int:
        created = 0
        for user_id in await services.users.all_ids():
            created += (await context.enqueuer.enqueue(WEEKLY, {}, user_id=user_id)).created
        return created

    return Contribution(
        kinds=[
            JobKind(GENERATE, "insights", generate, per_user=False),
            JobKind(WEEKLY, "insights", weekly, per_user=False),
        ],
        cron={"weekly_summaries": weekly_summaries},
    )
