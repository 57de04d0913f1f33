"""`OrganizerScan.run`: one user's liked songs since the last completed scan, sorted into
per-language and per-genre playlists.

1. Liked songs, newest first, page by page, down to the cursor (`added_at` of the newest song of
   the last completed scan). Songs liked in the cursor's own second are read again: Spotify's
   `added_at` has whole seconds, and adds are recorded, so this costs nothing and misses none.
2. Each song's language (title, with artist and album as weaker evidence) and genre (primary
   artist's first genre, from one batched artists look-up).
3. Target playlists found or created, then filled (`playlists.py`).
4. Only when every write succeeded does the cursor move (to the newest song read). Any error
   marks the scan failed, leaves the cursor and re-raises, so the job retries; the retry redoes
   the songs above the cursor and the records make it add none twice.

In development mode Spotify refuses batch gets: the client then fetches artists one at a time
(READ calls), and only 5 users may use the app; the scan state's `mode_note` says so.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select

from backbeat.clock import Clock
from backbeat.db.engine import Database
from backbeat.db.models import User
from backbeat.domain.organizer import state
from backbeat.domain.organizer.groups import group_tracks, primary_artist_ids
from backbeat.domain.organizer.language import TrackLanguage
from backbeat.domain.organizer.playlists import Calls, PlaylistSync
from backbeat.domain.organizer.settings import OrganizerSettings, get_settings
from backbeat.errors import NotFound
from backbeat.ratelimit import Priority
from backbeat.spotify import models as m
from backbeat.spotify.client import MAX_IDS
from backbeat.spotify.user import SpotifyUser
from backbeat.upstream.stack import UpstreamStack

log = logging.getLogger(__name__)

PAGE = 50  # liked songs per request, Spotify's maximum
DEVELOPMENT_NOTE = (
    "development mode: Spotify refuses batch gets, so artists (for genres) are fetched one at a "
    "time — one READ call per artist instead of one BATCH call per 50 — and at most 5 users "
    "may use this app"
)


@dataclass(frozen=True, slots=True)
class ScanResult:
    user_id: str
    outcome: Literal["sorted", "disabled"]
    scanned: int  # liked songs newer than the cursor
    sorted: int  # of the songs read, those put in a playlist by this scan
    added: int  # tracks added to playlists (a song may go to two)
    already_there: int  # found in their playlist already (recorded, not added)
    unsure_language: int  # songs without a language playlist: no clear language
    playlists_created: int
    cursor: datetime | None  # where the next scan stops
    calls: Calls
    mode_note: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cursor"] = self.cursor.isoformat() if self.cursor else None
        return data


class OrganizerScan:
    def __init__(
        self,
        database: Database,
        upstreams: UpstreamStack,
        clock: Clock,
        *,
        language: TrackLanguage | None = None,
    ) -> None:
        """`language`: a shared detector; default, the default languages' (built on first use,
        off the event loop: building takes most of a second)."""
        self.database = database
        self.upstreams = upstreams
        self.clock = clock
        self._language = language

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    async def language(self) -> TrackLanguage:
        if self._language is None:
            self._language = await asyncio.to_thread(TrackLanguage)
        return self._language

    async def run(self, user_id: str, priority: Priority = Priority.NORMAL) -> ScanResult:
        settings = await get_settings(self.database, user_id)
        if not settings.enabled:
            return ScanResult(user_id, "disabled", 0, 0, 0, 0, 0, 0, None, Calls())
        owner = await self._spotify_id(user_id)
        cursor = await state.begin(self.database, user_id, self._now())
        try:
            result = await self._scan(user_id, owner, cursor, settings, priority)
        except Exception as error:
            try:
                await state.fail(self.database, user_id, self._now(), error)
            except Exception:  # the scan's own error matters more than the record of it
                log.exception("could not record the failed organizer scan of %s", user_id)
            raise
        done = state.Finished(
            cursor, result.cursor, result.scanned, result.sorted, result.mode_note
        )
        await state.succeed(self.database, user_id, self._now(), done)
        return result

    async def _spotify_id(self, user_id: str) -> str:
        async with self.database.sessions() as session:
            found = await session.scalar(select(User.spotify_id).where(User.id == user_id))
        if found is None:
            raise NotFound("user", user_id)
        return found

    async def _scan(
        self,
        user_id: str,
        owner: str,
        cursor: datetime | None,
        settings: OrganizerSettings,
        priority: Priority,
    ) -> ScanResult:
        spotify = self.upstreams.user(user_id, priority)
        calls = Calls()
        liked, scanned = await self._liked_since(spotify, cursor, calls)
        tracks = [saved.track for saved in reversed(liked)]  # oldest first
        kinds = settings.kinds()
        languages: dict[str, str | None] = {}
        if "language" in kinds and tracks:
            detector = await self.language()
            languages = await asyncio.to_thread(detector.detect_tracks, tracks)
        artists: dict[str, m.Artist] = {}
        if "genre" in kinds and tracks:
            artists = await self._artists(primary_artist_ids(tracks), calls, priority)
        groups = group_tracks(tracks, kinds=kinds, languages=languages, artists=artists)
        sync = PlaylistSync(
            self.database, spotify, user_id=user_id, owner_id=owner, now=self._now, calls=calls
        )
        names = {g: settings.playlist_name(g.kind, g.key, g.display_name) for g in groups}
        targets = await sync.targets(names)
        added = already = 0
        placed: set[str] = set()
        for group, members in groups.items():
            filled = await sync.fill(targets[group], members)
            added += len(filled.added)
            already += len(filled.already_there)
            placed |= filled.added | filled.already_there
        newest = max((saved.added_at for saved in liked), default=None)
        mode_note = None if self.upstreams.spotify.batch_gets else DEVELOPMENT_NOTE
        return ScanResult(
            user_id=user_id,
            outcome="sorted",
            scanned=scanned,
            sorted=len(placed),
            added=added,
            already_there=already,
            unsure_language=sum(code is None for code in languages.values()),
            playlists_created=sync.created,
            cursor=newest or cursor,
            calls=calls,
            mode_note=mode_note,
        )

    async def _liked_since(
        self, spotify: SpotifyUser, cursor: datetime | None, calls: Calls
    ) -> tuple[list[m.SavedTrack], int]:
        """Liked songs at or after the cursor, newest first, each once (a like during the scan
        shifts offsets by one: the song at a page's edge comes again); and how many are newer
        than the cursor."""
        found: dict[str, m.SavedTrack] = {}
        offset = 0
        while True:
            calls.read += 1
            page = await spotify.saved_tracks(limit=PAGE, offset=offset)
            for saved in page.items:
                if cursor is not None and saved.added_at < cursor:
                    return self._counted(found, cursor)
                found.setdefault(saved.track.id, saved)
            offset += len(page.items)
            if page.next is None or not page.items or offset >= page.total:
                return self._counted(found, cursor)

    @staticmethod
    def _counted(
        found: dict[str, m.SavedTrack], cursor: datetime | None
    ) -> tuple[list[m.SavedTrack], int]:
        liked = list(found.values())
        return liked, sum(cursor is None or saved.added_at > cursor for saved in liked)

    async def _artists(
        self, ids: list[str], calls: Calls, priority: Priority
    ) -> dict[str, m.Artist]:
        spotify = self.upstreams.spotify
        found = await spotify.artists(ids, priority=priority)
        if spotify.batch_gets:
            calls.batch += math.ceil(len(ids) / MAX_IDS["artists"])
        else:
            calls.read += len(ids)
        return {artist.id: artist for artist in found if artist is not None}
