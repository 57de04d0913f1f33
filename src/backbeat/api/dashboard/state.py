"""What the system looks like now, read from the same sources as the metrics: the limiter's
snapshots, the queues, the job store and the response cache. `/dashboard/data` returns it as
JSON; `/metrics` exports the gauges among it at scrape time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backbeat.domain.services import Services
from backbeat.jobs.lifecycle import JobRecord
from backbeat.jobs.runtime import JobRuntime
from backbeat.ratelimit.metrics import AppMetrics

FAILED_SINCE = timedelta(hours=24)  # how far back "recent failed jobs" look
FAILED_SHOWN = 10
FAILED_SCANNED = 500  # the store lists the oldest first: read this many to find the newest


@dataclass(frozen=True, slots=True)
class LiveState:
    apps: list[AppMetrics]
    queues: dict[str, int]  # ready messages per queue
    scheduled: dict[str, int]  # messages waiting for their time (retries, deferrals)
    jobs: dict[str, int]  # rows per status


async def live_state(services: Services, runtime: JobRuntime) -> LiveState:
    limiter = services.upstreams.limiter
    apps = [await limiter.snapshot(app) for app in limiter.policies]
    queues = runtime.queues

    def depths() -> tuple[dict[str, int], dict[str, int]]:  # Huey's storages block
        return (
            {name: queues.pending(name) for name in queues.names},
            {name: queues.scheduled(name) for name in queues.names},
        )

    pending, scheduled = await asyncio.to_thread(depths)
    return LiveState(apps, pending, scheduled, await runtime.store.counts())


def cache_stats(services: Services) -> dict[str, Any]:
    by_endpoint = services.upstreams.cache.metrics()
    hits = sum(counts["hits"] for counts in by_endpoint.values())
    misses = sum(counts["misses"] for counts in by_endpoint.values())
    rate = hits / (hits + misses) if hits + misses else None
    return {"hits": hits, "misses": misses, "hit_rate": rate, "endpoints": by_endpoint}


async def recent_failures(runtime: JobRuntime, now: float) -> list[dict[str, Any]]:
    since = datetime.fromtimestamp(now, UTC) - FAILED_SINCE
    failed = await runtime.store.failed_since(since, limit=FAILED_SCANNED)
    return [_failure(job) for job in reversed(failed[-FAILED_SHOWN:])]


def _failure(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "queue": job.queue,
        "user_id": job.user_id,
        "attempts": job.attempts,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": (job.error or "")[:300],
    }


async def dashboard_data(
    services: Services, runtime: JobRuntime, history: dict[str, Any]
) -> dict[str, Any]:
    """Everything the page shows, in one JSON document."""
    now = services.clock.time()
    state = await live_state(services, runtime)
    return {
        "now": now,
        "apps": [app.as_dict() for app in state.apps],
        "history": history,
        "queues": state.queues,
        "scheduled": state.scheduled,
        "jobs": state.jobs,
        "cache": cache_stats(services),
        "failed_jobs": await recent_failures(runtime, now),
    }
