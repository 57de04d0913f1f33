"""Listening jobs: ingest a user's snapshots (one or more time ranges), and the daily 02:00
scan of every user, spread over the window the read budget needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from backbeat.db.models import TIME_RANGES
from backbeat.domain.listening import ingest_snapshot
from backbeat.jobs.lifecycle import JobKind, JobRecord
from backbeat.jobs.runtime import Contribution, JobContext, scan_rate
from backbeat.jobs.tasks.context import services_of
from backbeat.ratelimit import Priority

INGEST = "ingest_listening"


def ingest_key(user_id: str, time_ranges: Sequence[str]) -> str:
    """One active ingest per user and set of time ranges (a manual short_term ingest does not
    wait behind tonight's scan of all three, nor merge into it)."""
    return f"{user_id}:{','.join(time_ranges)}"


def contribute(context: JobContext) -> Contribution:
    services = services_of(context)

    async def ingest(job: JobRecord) -> dict[str, Any]:
        assert job.user_id is not None
        ranges = list(job.payload.get("time_ranges") or TIME_RANGES)
        now = datetime.fromtimestamp(services.clock.time(), UTC)
        spotify_user = services.upstreams.user(job.user_id, job.priority)
        snapshots = {
            time_range: await ingest_snapshot(
                services.database,
                spotify_user,
                services.upstreams.spotify,
                user_id=job.user_id,
                time_range=time_range,
                today=now.date(),
                now=now,
            )
            for time_range in ranges
        }
        return {"snapshot_id": snapshots[ranges[0]], "snapshot_ids": snapshots}

    async def ingest_all_users() -> int:
        users = await services.users.all_ids()
        enqueued = await context.enqueuer.enqueue_batch(
            users,
            INGEST,
            calls_per_job=context.settings.jobs.scan_calls_per_user,
            rate_per_second=scan_rate(context.settings),
            payload={"time_ranges": list(TIME_RANGES)},
            priority=Priority.NORMAL,
            dedupe=lambda user: ingest_key(user, TIME_RANGES),
        )
        return sum(result.created for result in enqueued)

    return Contribution(
        kinds=[JobKind(INGEST, "spotify", ingest)],
        cron={"ingest_all_users": ingest_all_users},
    )
