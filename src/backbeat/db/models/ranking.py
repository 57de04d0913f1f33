"""The song ranker: a shared song catalog, users' ranking sessions of pairwise duels, their
Bradley-Terry results, and per-artist leaderboards pooled over every session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from backbeat.db.models.base import Base, one_of
from backbeat.db.models.types import new_id, utcnow

SESSION_STATUSES = ("active", "completed", "archived")
OUTCOMES = ("win", "tie", "skip")


class Song(Base):
    """A Spotify track, shared by all users. Sessions deduplicate releases of one recording
    by `isrc`, and by `normalized_title` within an artist when the ISRC is missing."""

    __tablename__ = "songs"
    __table_args__ = (
        Index("ix_songs_isrc", "isrc"),
        Index(
            "ix_songs_artist_spotify_id_normalized_title", "artist_spotify_id", "normalized_title"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    spotify_id: Mapped[str] = mapped_column(String(64), unique=True)
    isrc: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(512))
    normalized_title: Mapped[str] = mapped_column(String(512))
    artist_spotify_id: Mapped[str] = mapped_column(String(64))
    artist_name: Mapped[str] = mapped_column(String(512))
    album_spotify_id: Mapped[str | None] = mapped_column(String(64))
    album_name: Mapped[str | None] = mapped_column(String(512))
    release_date: Mapped[str | None] = mapped_column(String(10), doc="YYYY, YYYY-MM or YYYY-MM-DD")
    duration_ms: Mapped[int | None]
    image_url: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RankingSession(Base):
    __tablename__ = "ranking_sessions"
    __table_args__ = (
        Index("ix_ranking_sessions_user_id_created_at", "user_id", "created_at"),
        one_of("status", SESSION_STATUSES),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    artist_spotify_id: Mapped[str | None] = mapped_column(String(64), doc="an artist's session")
    status: Mapped[str] = mapped_column(String(16), default="active")
    comparison_count: Mapped[int] = mapped_column(default=0)
    convergence: Mapped[float | None] = mapped_column(Float, doc="0 (none) … 1 (settled)")
    ranked_at: Mapped[datetime | None] = mapped_column(doc="when the scores were last fitted")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SessionSong(Base):
    __tablename__ = "session_songs"
    __table_args__ = (Index("ix_session_songs_song_id", "song_id"),)

    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("ranking_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    song_id: Mapped[int] = mapped_column(
        ForeignKey("songs.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comparison(Base):
    """One duel. A tie or skip keeps the pair shown in winner_id/loser_id (order meaningless).
    Undo marks the row (`undone_at`) instead of deleting it, so history stays auditable."""

    __tablename__ = "comparisons"
    __table_args__ = (
        # Both songs must belong to the session (composite keys onto session_songs).
        ForeignKeyConstraint(
            ["session_id", "winner_id"],
            ["session_songs.session_id", "session_songs.song_id"],
            ondelete="CASCADE",
            name="fk_comparisons_winner",
        ),
        ForeignKeyConstraint(
            ["session_id", "loser_id"],
            ["session_songs.session_id", "session_songs.song_id"],
            ondelete="CASCADE",
            name="fk_comparisons_loser",
        ),
        Index("ix_comparisons_session_id_created_at", "session_id", "created_at"),
        one_of("outcome", OUTCOMES),
        CheckConstraint("winner_id <> loser_id", name="distinct_songs"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36))
    winner_id: Mapped[int]
    loser_id: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(8), default="win")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]


class SessionRanking(Base):
    """A session's fitted Bradley-Terry scores, rewritten whole on every fit."""

    __tablename__ = "session_rankings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["session_id", "song_id"],
            ["session_songs.session_id", "session_songs.song_id"],
            ondelete="CASCADE",
            name="fk_session_rankings_session_song",
        ),
    )

    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    song_id: Mapped[int] = mapped_column(primary_key=True)
    rank: Mapped[int]
    score: Mapped[float] = mapped_column(Float)
    wins: Mapped[int] = mapped_column(default=0)
    losses: Mapped[int] = mapped_column(default=0)
    ties: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArtistLeaderboard(Base):
    """An artist's songs ranked over every user's duels; rebuilt on the leaderboard queue."""

    __tablename__ = "artist_leaderboards"

    artist_spotify_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    artist_name: Mapped[str] = mapped_column(String(512))
    session_count: Mapped[int] = mapped_column(default=0)
    comparison_count: Mapped[int] = mapped_column(default=0)
    convergence: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArtistLeaderboardEntry(Base):
    __tablename__ = "artist_leaderboard_entries"
    __table_args__ = (
        Index("ix_artist_leaderboard_entries_artist_spotify_id_rank", "artist_spotify_id", "rank"),
        Index("ix_artist_leaderboard_entries_song_id", "song_id"),
    )

    artist_spotify_id: Mapped[str] = mapped_column(
        String(64),
        ForeignKey("artist_leaderboards.artist_spotify_id", ondelete="CASCADE"),
        primary_key=True,
    )
    song_id: Mapped[int] = mapped_column(
        ForeignKey("songs.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int]
    score: Mapped[float] = mapped_column(Float)
    comparison_count: Mapped[int] = mapped_column(default=0)
