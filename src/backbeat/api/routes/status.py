"""`GET /metrics/rate-limiter` and `GET /metrics/jobs`: JSON views of the limiter and the job
system in the shapes the organizer's operators already read (seed 000), with the detail
backbeat adds (every app's windows, pause, ban and waiters; every queue's depth)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from backbeat.api.auth import ServicesDep
from backbeat.api.deps import JobRuntimeDep
from backbeat.ratelimit import Rate

router = APIRouter(prefix="/metrics", tags=["operations"])
CLASSES = ("read", "write", "batch")


@router.get("/rate-limiter")
async def rate_limiter(found: ServicesDep) -> dict[str, Any]:
    limiter = found.upstreams.limiter
    apps = {app: (await limiter.snapshot(app)).as_dict() for app in limiter.policies}
    spotify = apps[f"spotify:{found.settings.spotify.client_id}"]
    usage = dict.fromkeys(CLASSES, 0)
    for window in spotify["windows"]:  # keys: c:<class>:<n> for class windows
        scope, _, rest = window["key"].partition(":")
        name = rest.partition(":")[0]
        if scope == "c" and name in usage:
            usage[name] = max(usage[name], window["used"])
    rates = found.settings.ratelimit
    limits = {name: Rate.parse(getattr(rates, f"spotify_{name}")).limit for name in CLASSES}
    return {
        "window_seconds": Rate.parse(found.settings.ratelimit.spotify_read).period,
        "backoff_multiplier": spotify["multiplier"],
        "paused_for_s": spotify["pause_remaining"],
        "banned_for_s": spotify["ban_remaining"],
        "current_usage": usage,
        "limits": limits,
        "http_429": spotify["http_429"],
        "apps": apps,
    }


@router.get("/jobs")
async def jobs(request: Request, runtime: JobRuntimeDep) -> dict[str, Any]:
    counts = await runtime.store.counts()
    queues = runtime.queues
    pending = await asyncio.to_thread(lambda: {name: queues.pending(name) for name in queues.names})
    later = await asyncio.to_thread(lambda: {name: queues.scheduled(name) for name in queues.names})
    return {
        "total_jobs": sum(counts.values()),
        "queue_length": sum(pending.values()),
        "status_counts": counts,
        "queues": pending,
        "scheduled": later,  # retries, deferrals and spread-out scans waiting for their time
        "running": bool(request.app.state.consumers),  # consumers inside this process
    }
