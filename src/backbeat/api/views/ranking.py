"""The ranker's JSON: songs carry `id` and `name` (the shapes other tools read), the ranking is
best first with each song's score."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel

from backbeat.domain.ranking import DuelRecord, RankingEntry, SessionSummary, SessionView, SongView


class Song(BaseModel):
    id: int
    name: str
    spotify_id: str
    artist_id: str
    artist_name: str
    album_name: str | None
    release_date: str | None
    duration_ms: int | None
    image_url: str | None
    isrc: str | None

    @classmethod
    def of(cls, song: SongView) -> Song:
        return cls(
            id=song.id,
            name=song.title,
            spotify_id=song.spotify_id,
            artist_id=song.artist_spotify_id,
            artist_name=song.artist_name,
            album_name=song.album_name,
            release_date=song.release_date,
            duration_ms=song.duration_ms,
            image_url=song.image_url,
            isrc=song.isrc,
        )


class Ranked(BaseModel):
    id: int
    name: str
    rank: int | None  # None: joined after the last fit
    score: float | None
    wins: int
    losses: int
    ties: int

    @classmethod
    def of(cls, entry: RankingEntry) -> Ranked:
        return cls(
            id=entry.song.id,
            name=entry.song.title,
            rank=entry.rank,
            score=entry.score,
            wins=entry.wins,
            losses=entry.losses,
            ties=entry.ties,
        )


class Session(BaseModel):
    id: str
    name: str
    artist_id: str | None
    status: str
    songs: list[Song]
    ranking: list[Ranked]
    duels: int
    duels_since_fit: int
    convergence: float | None
    ranked_at: datetime | None
    target_duels: int
    progress: float
    created_at: datetime

    @classmethod
    def of(cls, view: SessionView) -> Session:
        return cls(
            id=view.id,
            name=view.name,
            artist_id=view.artist_spotify_id,
            status=view.status,
            songs=[Song.of(song) for song in view.songs],
            ranking=[Ranked.of(entry) for entry in view.ranking],
            duels=view.duels,
            duels_since_fit=view.duels_since_fit,
            convergence=view.convergence,
            ranked_at=view.ranked_at,
            target_duels=view.target_duels,
            progress=view.progress,
            created_at=view.created_at,
        )


class SessionItem(BaseModel):
    id: str
    name: str
    artist_id: str | None
    status: str
    song_count: int
    duels: int
    convergence: float | None
    created_at: datetime

    @classmethod
    def of(cls, item: SessionSummary) -> SessionItem:
        return cls(
            id=item.id,
            name=item.name,
            artist_id=item.artist_spotify_id,
            status=item.status,
            song_count=item.song_count,
            duels=item.duels,
            convergence=item.convergence,
            created_at=item.created_at,
        )


class Pair(BaseModel):
    a: Song
    b: Song

    @classmethod
    def of(cls, a: SongView, b: SongView) -> Pair:
        return cls(a=Song.of(a), b=Song.of(b))


class Duel(BaseModel):
    comparison_id: int
    winner_id: int
    loser_id: int
    outcome: str
    duels: int

    @classmethod
    def of(cls, record: DuelRecord) -> Duel:
        return cls.model_validate(asdict(record))
