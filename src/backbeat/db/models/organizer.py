"""The library organizer: where each user's liked-songs scan stands, and the playlists it fills.

The scan walks liked songs newest first down to `cursor_added_at`, and moves the cursor only
after every song above it is in its playlists: a scan that fails half-way leaves the cursor
where it was, and the next one redoes the part (adds are recorded, so none happen twice).

A user's organizer settings live on their scan-state row (one row per user either way); a user
without a row has the defaults.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from backbeat.db.models.base import Base, one_of
from backbeat.db.models.types import utcnow

SCAN_STATUSES = ("idle", "running", "failed")
GROUP_KINDS = ("language", "genre")
DEFAULT_NAME_PATTERN = "Liked · {name}"


class OrganizerScanState(Base):
    __tablename__ = "organizer_scan_states"
    __table_args__ = (one_of("status", SCAN_STATUSES),)

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="idle")
    cursor_added_at: Mapped[datetime | None] = mapped_column(
        doc="added_at of the newest liked song fully sorted; None: never scanned"
    )
    scanned_total: Mapped[int] = mapped_column(default=0)
    sorted_total: Mapped[int] = mapped_column(default=0, doc="songs added to some playlist")
    last_scan_count: Mapped[int] = mapped_column(default=0)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_succeeded_at: Mapped[datetime | None]
    mode_note: Mapped[str | None] = mapped_column(
        Text, doc="what the app's mode (development) meant for the last scan; None: nothing"
    )
    # Settings (migration 0003). Server defaults fill the rows that existed before them.
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    by_language: Mapped[bool] = mapped_column(default=True, server_default=true())
    by_genre: Mapped[bool] = mapped_column(default=True, server_default=true())
    name_pattern: Mapped[str] = mapped_column(
        String(100), default=DEFAULT_NAME_PATTERN, server_default=DEFAULT_NAME_PATTERN
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrganizerPlaylist(Base):
    """One playlist per user and language or genre. The row comes first and the Spotify
    playlist after it (`spotify_playlist_id` None until created), so a retry never creates two."""

    __tablename__ = "organizer_playlists"
    __table_args__ = (
        UniqueConstraint("user_id", "group_kind", "group_key"),
        UniqueConstraint("spotify_playlist_id"),
        one_of("group_kind", GROUP_KINDS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    group_kind: Mapped[str] = mapped_column(String(16))
    group_key: Mapped[str] = mapped_column(String(64), doc="ISO 639-1 code or genre name")
    name: Mapped[str] = mapped_column(String(255))
    spotify_playlist_id: Mapped[str | None] = mapped_column(String(64))
    track_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrganizerPlaylistTrack(Base):
    """A track the organizer put in a playlist: checked before adding, so re-runs add nothing."""

    __tablename__ = "organizer_playlist_tracks"

    playlist_id: Mapped[int] = mapped_column(
        ForeignKey("organizer_playlists.id", ondelete="CASCADE"), primary_key=True
    )
    spotify_track_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
