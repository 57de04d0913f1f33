"""The library organizer: the caller's settings, a scan now, and where their scans stand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter

from backbeat.api.auth import Caller, ServicesDep, limited
from backbeat.api.deps import JobRuntimeDep
from backbeat.api.routes.listening import Accepted
from backbeat.domain.accounts import CurrentSession
from backbeat.domain.organizer import (
    OrganizerSettings,
    get_settings,
    put_settings,
    status,
)
from backbeat.jobs.tasks.organizer import ORGANIZE
from backbeat.ratelimit import Priority

router = APIRouter(prefix="/api/organizer", tags=["organizer"])
EXAMPLE = {
    "enabled": True,
    "by_language": True,
    "by_genre": False,
    "name_pattern": "Liked · {name}",
}


@router.get("/settings")
async def read_settings(caller: Caller, found: ServicesDep) -> OrganizerSettings:
    return await get_settings(found.database, caller.user_id)


@router.put("/settings")
async def write_settings(
    settings: OrganizerSettings, caller: Caller, found: ServicesDep
) -> OrganizerSettings:
    """Which playlists to keep (by language, by genre), how to name them, on or off."""
    await put_settings(found.database, caller.user_id, settings)
    return settings


@router.post("/scan", status_code=202)
async def scan(
    caller: Annotated[CurrentSession, limited("organizer")], jobs: JobRuntimeDep
) -> Accepted:
    """Sort the caller's new liked songs now (HIGH priority; a few per hour)."""
    enqueued = await jobs.enqueuer.enqueue(
        ORGANIZE, {}, user_id=caller.user_id, priority=Priority.HIGH
    )
    return Accepted(task_id=enqueued.job.id, status=enqueued.job.status.value)


@router.get("/status")
async def scan_status(caller: Caller, found: ServicesDep) -> dict[str, Any]:
    """The last scan, counts, the playlists and the next scheduled run."""
    now = datetime.fromtimestamp(found.clock.time(), UTC)
    cron = found.settings.jobs.cron_organize_all_users
    return (await status(found.database, caller.user_id, now=now, cron=cron)).as_json()
