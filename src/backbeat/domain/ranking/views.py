"""What the ranking service hands out: plain frozen records, detached from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backbeat.db.models import Comparison, Song


@dataclass(frozen=True, slots=True)
class SongView:
    id: int
    spotify_id: str
    title: str
    artist_spotify_id: str
    artist_name: str
    album_name: str | None
    release_date: str | None
    duration_ms: int | None
    image_url: str | None
    isrc: str | None

    @classmethod
    def from_row(cls, row: Song) -> SongView:
        return cls(
            id=row.id,
            spotify_id=row.spotify_id,
            title=row.title,
            artist_spotify_id=row.artist_spotify_id,
            artist_name=row.artist_name,
            album_name=row.album_name,
            release_date=row.release_date,
            duration_ms=row.duration_ms,
            image_url=row.image_url,
            isrc=row.isrc,
        )


@dataclass(frozen=True, slots=True)
class RankingEntry:
    """A song's place as of the last fit; songs added since have no rank or score yet."""

    song: SongView
    rank: int | None
    score: float | None
    wins: int = 0
    losses: int = 0
    ties: int = 0


@dataclass(frozen=True, slots=True)
class SessionSummary:
    id: str
    name: str
    artist_spotify_id: str | None
    status: str
    song_count: int
    duels: int
    convergence: float | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SessionView:
    id: str
    user_id: str
    name: str
    artist_spotify_id: str | None
    status: str
    songs: list[SongView]  # in the order they joined the session
    ranking: list[RankingEntry]  # best first; songs not fitted yet at the end, by id
    duels: int  # comparisons made and not undone, skips included
    duels_since_fit: int  # informative duels (and undos) the ranking does not reflect yet
    convergence: float | None  # 0 … 1 as of the last fit; None before the first
    ranked_at: datetime | None
    target_duels: int  # n·log₂n
    progress: float  # informative duels ÷ target_duels, capped at 1
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DuelRecord:
    """A duel as recorded (or undone): for "a"/"b" the winner first; for a tie or skip, the
    pair as shown. `duels` is the session's count after the change."""

    comparison_id: int
    winner_id: int
    loser_id: int
    outcome: str  # win | tie | skip
    duels: int

    @classmethod
    def from_row(cls, row: Comparison, duels: int) -> DuelRecord:
        return cls(row.id, row.winner_id, row.loser_id, row.outcome, duels)
