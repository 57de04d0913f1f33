"""The simulator's own endpoints: the stats benchmarks read, reset, health and ground truth, and
development hooks (likes added to a user, targeted faults, a user's tokens revoked, the rate
limit changed mid-run)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.faults import TargetedFault
from backbeat.simulator.objects import timestamp
from backbeat.simulator.state import simulator_of

router = APIRouter(prefix="/_sim", tags=["simulator"])


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    return simulator_of(request).stats.snapshot()


@router.post("/reset")
async def reset(request: Request) -> dict[str, str]:
    simulator_of(request).reset()
    return {"status": "reset"}


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    sim = simulator_of(request)
    return {
        "status": "ok",
        "mode": sim.settings.mode,
        "time_scale": sim.settings.time_scale,
        "artists": len(sim.catalog.artists),
        "albums": len(sim.catalog.albums),
        "tracks": len(sim.catalog.tracks),
        "users": sim.users.count,
    }


@router.get("/tracks/{track_id}")
async def track_truth(track_id: str, request: Request) -> dict[str, Any]:
    """Ground truth the Web API does not show (the title's language), for scoring."""
    track = simulator_of(request).catalog.tracks.get(track_id)
    if track is None:
        raise SpotifyError(404, "Unknown track")
    return {"id": track.id, "name": track.name, "language": track.language, "isrc": track.isrc}


class Likes(BaseModel):
    track_ids: list[str] = Field(min_length=1, max_length=500)


@router.post("/users/{user_id}/likes")
async def add_likes(user_id: str, likes: Likes, request: Request) -> dict[str, Any]:
    """The user likes these tracks now, in order (the last is the newest)."""
    sim = simulator_of(request)
    profile = sim.users.get(user_id)
    if profile is None:
        raise SpotifyError(404, "Unknown user")
    unknown = [track_id for track_id in likes.track_ids if track_id not in sim.catalog.tracks]
    if unknown:
        raise SpotifyError(400, f"Unknown tracks: {', '.join(unknown[:5])}")
    now = datetime.fromtimestamp(sim.clock.time(), UTC)
    added = sim.likes.like(profile, likes.track_ids, now)
    return {
        "added": [{"id": saved.track_id, "added_at": timestamp(saved.at)} for saved in added],
        "total": len(sim.likes.liked(profile)),
    }


class Fault(BaseModel):
    endpoint: str = Field(
        min_length=1, description="a stats endpoint name, e.g. add_playlist_items"
    )
    status: int = Field(default=503, ge=400, le=599)
    after: int = Field(default=0, ge=0, description="calls let through first")
    times: int = Field(default=1, ge=1, description="calls failed then")


@router.post("/faults")
async def add_fault(fault: Fault, request: Request) -> dict[str, Any]:
    simulator_of(request).faults.target(TargetedFault(**fault.model_dump()))
    return fault.model_dump()


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, str]:
    simulator_of(request).faults.clear_targets()
    return {"status": "cleared"}


@router.delete("/users/{user_id}/tokens")
async def revoke_tokens(user_id: str, request: Request) -> dict[str, Any]:
    """The user takes back the access they gave: every access and refresh token of theirs stops
    working at once (calls get 401, refreshes `invalid_grant`), until they consent again."""
    sim = simulator_of(request)
    if sim.users.get(user_id) is None:
        raise SpotifyError(404, "Unknown user")
    access, refresh = sim.accounts.revoke_user(user_id)
    return {"user": user_id, "access_tokens": access, "refresh_tokens": refresh}


class Limit(BaseModel):
    limit: int = Field(gt=0, description="requests per rolling window, per app")


@router.post("/limit")
async def set_limit(limit: Limit, request: Request) -> dict[str, int]:
    """Spotify changes its (unpublished) limit: every app's window admits `limit` calls from now
    on. Calls already in the window count, so a lower limit refuses until enough expire. `POST
    /_sim/reset` restores the configured limit."""
    previous = simulator_of(request).spotify_limits.set_limit(limit.limit)
    return {"limit": limit.limit, "previous": previous}
