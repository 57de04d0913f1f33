"""Leaderboards pooled over every user's duels, ReccoBeats recommendations and audio features."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from backbeat.api.auth import Caller, ServicesDep, limited
from backbeat.domain.accounts import CurrentSession
from backbeat.domain.recommendations import MAX_SIZE, Recommendations, TrackFeatures

router = APIRouter(prefix="/api", tags=["discovery"])
# ReccoBeats (and Spotify) while the user waits: limited per user.
DiscoveryCaller = Annotated[CurrentSession, limited("discovery")]


class LeaderboardEntry(BaseModel):
    song_id: int
    spotify_id: str
    title: str
    album_name: str | None
    image_url: str | None
    rank: int
    score: float
    comparison_count: int


class Leaderboard(BaseModel):
    artist_id: str
    artist_name: str
    session_count: int
    comparison_count: int
    convergence: float | None
    computed_at: datetime
    entries: list[LeaderboardEntry]


@router.get("/leaderboards/{artist_id}")
async def leaderboard(artist_id: str, caller: Caller, found: ServicesDep) -> Leaderboard:
    """An artist's songs ranked over every user's duels (refreshed after duels, at most once
    per interval)."""
    view = asdict(await found.leaderboards.get(artist_id))
    return Leaderboard(artist_id=view.pop("artist_spotify_id"), **view)


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@router.get("/recommendations")
async def recommendations(
    caller: DiscoveryCaller,
    found: ServicesDep,
    seed_tracks: Annotated[str, Query(max_length=200, description="1–5 comma-separated ids")],
    size: Annotated[int, Query(ge=1, le=MAX_SIZE)] = 20,
    features: bool = False,
) -> Recommendations:
    """Tracks like the seeds, from ReccoBeats, described by Spotify."""
    return await found.recommendations.recommend(_ids(seed_tracks), size, features=features)


@router.get("/audio-features")
async def audio_features(
    caller: DiscoveryCaller,
    found: ServicesDep,
    ids: Annotated[str, Query(max_length=1000, description="1–40 comma-separated track ids")],
) -> TrackFeatures:
    return await found.recommendations.audio_features(_ids(ids))
