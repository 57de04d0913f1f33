"""Ingest: fetch a user's listening, analyze it, and write the day's snapshot.

Re-running for the same day and time range replaces that snapshot (an upsert on the unique
key), so a retried or reaped job writes once. The caller supplies the day (jobs: the clock's
UTC date) and the priority (carried by the `SpotifyUser`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import select

from backbeat.db.engine import Database
from backbeat.db.models import ListeningSnapshot
from backbeat.db.upsert import upsert
from backbeat.domain.listening.analysis import analyze, distinct_tracks, missing_artist_ids
from backbeat.ratelimit import Priority
from backbeat.spotify import models as m
from backbeat.spotify.client import SpotifyClient
from backbeat.spotify.user import SpotifyUser, TimeRange

LIMIT = 50  # the most one page of top items or recently played holds
KEY = ("user_id", "snapshot_date", "time_range")
FeaturesSource = Literal["spotify", "reccobeats"]


async def fetch_features(
    spotify: SpotifyClient, ids: Sequence[str], priority: Priority = Priority.NORMAL
) -> tuple[dict[str, m.AudioFeatures], FeaturesSource | None]:
    """Features by track id, and where they came from (None when nothing was asked)."""
    if not ids:
        return {}, None
    found = await spotify.audio_features(ids, priority=priority)
    # The client turns to ReccoBeats for good once Spotify refused (403, development mode).
    source: FeaturesSource = "spotify" if spotify.spotify_features else "reccobeats"
    return {f.id: f for f in found if f is not None}, source


async def fetch_artists(
    spotify: SpotifyClient, ids: Sequence[str], priority: Priority = Priority.NORMAL
) -> dict[str, m.Artist]:
    if not ids:
        return {}
    found = await spotify.artists(ids, priority=priority)
    return {artist.id: artist for artist in found if artist is not None}


async def ingest_snapshot(
    database: Database,
    spotify_user: SpotifyUser,
    spotify: SpotifyClient,
    *,
    user_id: str,
    time_range: TimeRange,
    today: date,
    now: datetime | None = None,
) -> str:
    """Write (or rewrite) `user_id`'s snapshot of `today` for `time_range`; its id.

    `user_id` is backbeat's user (the row's foreign key); `spotify_user` calls Spotify as that
    user. `now` stamps `updated_at` (default: the system time), which an upsert does not do.
    """
    # gather, not a TaskGroup: callers catch upstream errors by type, not in exception groups.
    top_tracks, top_artists, recent = await asyncio.gather(
        spotify_user.top_tracks(time_range, limit=LIMIT),
        spotify_user.top_artists(time_range, limit=LIMIT),
        spotify_user.recently_played(limit=LIMIT),
    )
    tracks = distinct_tracks([*top_tracks.items, *(play.track for play in recent.items)])
    unknown = missing_artist_ids(top_tracks.items, (a.id for a in top_artists.items))
    (features, source), artists = await asyncio.gather(
        fetch_features(spotify, [track.id for track in tracks], spotify_user.priority),
        fetch_artists(spotify, unknown, spotify_user.priority),
    )
    analysis = analyze(
        top_tracks=top_tracks.items,
        top_artists=top_artists.items,
        recently_played=recent.items,
        features=features,
        artists=artists,
    )
    key = {"user_id": user_id, "snapshot_date": today, "time_range": time_range}
    values = key | analysis.columns()
    values |= {"features_source": source, "updated_at": now or datetime.now(UTC)}
    async with database.sessions() as session, session.begin():
        await upsert(session, ListeningSnapshot, values, key=KEY)
        # The row may be this run's or an earlier one's: its id is found by the key.
        found = await session.execute(select(ListeningSnapshot.id).filter_by(**key))
        return found.scalar_one()
