"""The simulator's own endpoints: the stats benchmarks read, reset, health and ground truth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from backbeat.simulator.errors import SpotifyError
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
