"""A user's organizer at a glance: settings, the last scan, the playlists kept, the next run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backbeat.db.engine import Database
from backbeat.db.models import OrganizerPlaylist, OrganizerScanState, User
from backbeat.domain.organizer.cron import DEFAULT_CRON, next_fire
from backbeat.domain.organizer.settings import OrganizerSettings, settings_of
from backbeat.errors import NotFound


@dataclass(frozen=True, slots=True)
class PlaylistStatus:
    kind: str
    key: str
    name: str
    spotify_playlist_id: str | None  # None: the row exists, the playlist is not made yet
    track_count: int  # tracks the organizer put in it

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "name": self.name,
            "spotify_playlist_id": self.spotify_playlist_id,
            "track_count": self.track_count,
        }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@dataclass(frozen=True, slots=True)
class OrganizerStatus:
    user_id: str
    settings: OrganizerSettings
    status: str  # "never" (no scan yet), "idle", "running" or "failed"
    cursor_added_at: datetime | None
    scanned_total: int
    sorted_total: int
    last_scan_count: int
    consecutive_failures: int
    last_error: str | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_succeeded_at: datetime | None
    mode_note: str | None
    playlists: tuple[PlaylistStatus, ...]
    next_run_at: datetime | None  # None while the organizer is off

    def as_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "settings": self.settings.model_dump(),
            "status": self.status,
            "cursor_added_at": _iso(self.cursor_added_at),
            "scanned_total": self.scanned_total,
            "sorted_total": self.sorted_total,
            "last_scan_count": self.last_scan_count,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_started_at": _iso(self.last_started_at),
            "last_finished_at": _iso(self.last_finished_at),
            "last_succeeded_at": _iso(self.last_succeeded_at),
            "mode_note": self.mode_note,
            "playlists": [playlist.as_json() for playlist in self.playlists],
            "next_run_at": _iso(self.next_run_at),
        }


async def status(
    database: Database, user_id: str, *, now: datetime, cron: str = DEFAULT_CRON
) -> OrganizerStatus:
    """`cron`: the `organize_all_users` spec the scheduler runs (UTC)."""
    async with database.sessions() as session:
        if await session.get(User, user_id) is None:
            raise NotFound("user", user_id)
        state = await session.get(OrganizerScanState, user_id)
        rows = await session.scalars(
            select(OrganizerPlaylist)
            .where(OrganizerPlaylist.user_id == user_id)
            .order_by(OrganizerPlaylist.group_kind, OrganizerPlaylist.group_key)
        )
        playlists = tuple(
            PlaylistStatus(r.group_kind, r.group_key, r.name, r.spotify_playlist_id, r.track_count)
            for r in rows
        )
    settings = settings_of(state)
    next_run_at = next_fire(cron, now) if settings.enabled else None
    if state is None:
        return OrganizerStatus(
            user_id, settings, "never", None, 0, 0, 0, 0, None, None, None, None, None,
            playlists, next_run_at,
        )  # fmt: skip
    return OrganizerStatus(
        user_id=user_id,
        settings=settings,
        status=state.status if state.last_started_at else "never",
        cursor_added_at=state.cursor_added_at,
        scanned_total=state.scanned_total,
        sorted_total=state.sorted_total,
        last_scan_count=state.last_scan_count,
        consecutive_failures=state.consecutive_failures,
        last_error=state.last_error,
        last_started_at=state.last_started_at,
        last_finished_at=state.last_finished_at,
        last_succeeded_at=state.last_succeeded_at,
        mode_note=state.mode_note,
        playlists=playlists,
        next_run_at=next_run_at,
    )
