"""Ranking jobs: refit a session (default queue, every few duels and on demand), refresh an
artist's leaderboard (leaderboard queue, at most once per interval, never losing a duel), and
"rank all" — an artist's whole discography imported album by album at LOW priority, so the
session grows while its owner already duels."""

from __future__ import annotations

from typing import Any

from backbeat.jobs.lifecycle import JobKind, JobRecord, RunLater
from backbeat.jobs.runtime import Contribution, JobContext
from backbeat.jobs.tasks.context import services_of
from backbeat.ratelimit import Priority

RANK = "rank_session"
LEADERBOARD = "refresh_leaderboard"
IMPORT = "import_artist"
RANK_EVERY = 5  # informative duels between automatic refits
LEADERBOARD_INTERVAL = 30.0  # seconds between two computes of one artist's leaderboard


def contribute(context: JobContext) -> Contribution:
    services = services_of(context)

    async def rank(job: JobRecord) -> dict[str, Any]:
        fitted = await services.ranking.recompute(job.payload["session_id"])
        return {"session_id": job.payload["session_id"], "convergence": fitted.convergence}

    async def leaderboard(job: JobRecord) -> dict[str, Any]:
        artist = job.payload["artist_id"]
        refreshed = await services.leaderboards.refresh(artist, LEADERBOARD_INTERVAL)
        if refreshed.retry_at is not None:
            # Duels arrived that this board does not count: the same job comes back for them.
            raise RunLater(refreshed.retry_at, f"leaderboard {refreshed.status}; duels pending")
        counted = refreshed.view.comparison_count if refreshed.view else None
        return {"artist_id": artist, "status": refreshed.status, "comparisons": counted}

    async def import_artist(job: JobRecord) -> dict[str, Any]:
        assert job.user_id is not None
        session_id, artist = job.payload["session_id"], job.payload["artist_id"]
        albums = songs = 0
        async for album in services.songs.walk_artist(artist, priority=Priority.LOW):
            # One commit per album: the songs are there for the owner's next duel.
            added = await services.ranking.add_songs(
                session_id, album.song_ids, user_id=job.user_id
            )
            albums, songs = albums + 1, songs + len(added)
        return {"session_id": session_id, "albums": albums, "songs_added": songs}

    return Contribution(
        kinds=[
            JobKind(RANK, "default", rank, per_user=False),
            JobKind(LEADERBOARD, "leaderboard", leaderboard, per_user=False),
            JobKind(IMPORT, "spotify", import_artist),
        ]
    )
