"""Listening snapshots (one per user, day and time range) and the insights written from them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backbeat.db.models.base import Base, one_of
from backbeat.db.models.types import JSONType, new_id, utcnow

TIME_RANGES = ("short_term", "medium_term", "long_term")


class ListeningSnapshot(Base):
    """A day's aggregate of a user's listening for one Spotify time range. Re-ingesting the
    same day updates the row (an upsert on the unique key), so a retried job writes once."""

    __tablename__ = "listening_snapshots"
    __table_args__ = (
        UniqueConstraint("user_id", "snapshot_date", "time_range"),
        one_of("time_range", TIME_RANGES),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    snapshot_date: Mapped[date]
    time_range: Mapped[str] = mapped_column(String(16))
    track_count: Mapped[int] = mapped_column(default=0)
    top_track_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    top_artist_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    genres: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, doc="genre → count")
    # Per feature (energy, valence, tempo, …): mean, std, min, max, count.
    audio_features: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    features_source: Mapped[str | None] = mapped_column(String(16), doc="spotify or reccobeats")
    mood_patterns: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Normalized Shannon entropies in [0, 1]; None when there was too little to measure.
    genre_diversity: Mapped[float | None] = mapped_column(Float)
    artist_diversity: Mapped[float | None] = mapped_column(Float)
    mood_diversity: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GeneratedInsight(Base):
    """One generated text (wellness, roast, productivity, weekly summary, …), versioned by
    model and prompt so outputs of different prompts are never mistaken for each other."""

    __tablename__ = "generated_insights"
    __table_args__ = (
        Index("ix_generated_insights_user_id_created_at", "user_id", "created_at"),
        Index("ix_generated_insights_snapshot_id", "snapshot_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    # An insight stays readable when the snapshot it came from is pruned.
    snapshot_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("listening_snapshots.id", ondelete="SET NULL")
    )
    insight_type: Mapped[str] = mapped_column(String(32))
    tone: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32), doc="offline, openai")
    model: Mapped[str] = mapped_column(String(128))
    prompt_version: Mapped[str] = mapped_column(String(32))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    generation_ms: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
