"""Candidate songs for a session, gathered through backbeat's Spotify client and stored in the
shared `songs` table (keyed by Spotify id, so gathering twice updates instead of duplicating).

An artist is walked album by album, as an async generator, so a "rank all" import can commit
each album into the session while the user already duels the first ones. The artist's albums
are listed first (a few pages of 10) and walked originals first — studio albums, earliest
first, editions after — so the first release of each recording met is the one `dedup` prefers,
and the later deluxe and remastered copies are skipped rather than swapped in mid-session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from backbeat.db.engine import Database
from backbeat.db.models import Song
from backbeat.db.upsert import upsert
from backbeat.domain.ranking.dedup import (
    RecordingSet,
    Release,
    dedupe,
    normalize_title,
    preference,
    track_release,
)
from backbeat.ratelimit import Priority
from backbeat.spotify import models as m
from backbeat.spotify.client import SpotifyClient
from backbeat.spotify.user import SpotifyUser
from backbeat.upstream.batch import pages

ARTIST_ALBUMS_PAGE = 10  # the most a development-mode app may ask for
PLAYLIST_PAGE = 50
SELECT_CHUNK = 500  # ids per IN (…): far below SQLite's and asyncpg's parameter limits


@dataclass(frozen=True, slots=True)
class AlbumSongs:
    """One album of an artist walk: its new recordings, stored (ids in the songs table)."""

    album: m.AlbumRef
    song_ids: list[int]


def album_preference(album: m.AlbumRef) -> tuple[int, bool, str, str]:
    """Albums in the order their tracks should be met: the same rule as for one track."""
    return preference(
        Release(
            key=album.id,
            title="",
            artist_id="",
            album_name=album.name,
            album_type=album.album_type,
            release_date=album.release_date or None,
        )
    )


class SongCatalog:
    def __init__(self, database: Database, spotify: SpotifyClient) -> None:
        self.database = database
        self.spotify = spotify

    async def artist_albums(
        self,
        artist_id: str,
        *,
        include_groups: str = "album,single",
        priority: Priority = Priority.NORMAL,
    ) -> list[m.AlbumRef]:
        """Every album of the artist (page by page), originals first."""

        async def fetch(limit: int, offset: int) -> m.Page[m.AlbumRef]:
            return await self.spotify.artist_albums(
                artist_id,
                include_groups=include_groups,
                limit=limit,
                offset=offset,
                priority=priority,
            )

        albums: dict[str, m.AlbumRef] = {}
        async for items in pages(fetch, limit=ARTIST_ALBUMS_PAGE):
            albums.update((album.id, album) for album in items)
        return sorted(albums.values(), key=album_preference)

    async def album_tracks(
        self, album_id: str, *, priority: Priority = Priority.NORMAL
    ) -> list[m.Track]:
        """The album's tracks as full Track objects: album listings carry no ISRC."""

        listing = self.spotify.all_album_tracks(album_id, priority=priority)
        ids = [ref.id async for items in listing for ref in items]
        found = await self.spotify.tracks(ids, priority=priority)
        return [track for track in found if track is not None]

    async def walk_artist(
        self,
        artist_id: str,
        *,
        include_groups: str = "album,single",
        priority: Priority = Priority.NORMAL,
    ) -> AsyncIterator[AlbumSongs]:
        """The artist's recordings album by album, each stored before it is yielded; tracks on
        which the artist does not play and releases of recordings already met are left out."""
        albums = await self.artist_albums(
            artist_id, include_groups=include_groups, priority=priority
        )
        met = RecordingSet()
        for album in albums:
            tracks = [
                track
                for track in await self.album_tracks(album.id, priority=priority)
                if any(artist.id == artist_id for artist in track.artists)
            ]
            ordered = sorted(tracks, key=lambda track: preference(track_release(track)))
            new = {track.id for track in ordered if met.add(track_release(track))}
            yield AlbumSongs(album, await self.store([t for t in tracks if t.id in new]))

    async def from_albums(
        self, album_ids: Sequence[str], *, priority: Priority = Priority.NORMAL
    ) -> list[int]:
        """The albums' recordings, one release each, stored; ids in album and track order."""
        tracks = [
            track
            for album_id in dict.fromkeys(album_ids)
            for track in await self.album_tracks(album_id, priority=priority)
        ]
        return await self.store(dedupe(tracks))

    async def from_playlist(self, user: SpotifyUser, playlist_id: str) -> list[int]:
        """A playlist's recordings, one release each, stored. Playlists need the user's token,
        hence `user` (whose own priority the calls run at); local files are left out."""

        async def fetch(limit: int, offset: int) -> m.Page[m.PlaylistItem]:
            return await user.playlist_items(playlist_id, limit=limit, offset=offset)

        tracks = [
            item.track
            async for items in pages(fetch, limit=PLAYLIST_PAGE)
            for item in items
            if item.track is not None and item.track.artists
        ]
        return await self.store(dedupe(list({t.id: t for t in tracks}.values())))

    async def store(self, tracks: Sequence[m.Track]) -> list[int]:
        """Upsert the tracks into `songs`; their ids, in the order of `tracks`."""
        rows = {track.id: song_values(track) for track in tracks if track.artists}
        if not rows:
            return []
        async with self.database.sessions() as session, session.begin():
            # One lock order for every writer: two imports of one artist cannot deadlock.
            for spotify_id in sorted(rows):
                await upsert(session, Song, rows[spotify_id], key=("spotify_id",))
            ids: dict[str, int] = {}
            keys = list(rows)
            for start in range(0, len(keys), SELECT_CHUNK):
                found = await session.execute(
                    select(Song.spotify_id, Song.id).where(
                        Song.spotify_id.in_(keys[start : start + SELECT_CHUNK])
                    )
                )
                ids.update((spotify_id, song_id) for spotify_id, song_id in found)
        return [ids[track.id] for track in tracks if track.id in ids]


def _clip(text: str | None, length: int) -> str | None:
    return text[:length] if text else None


def song_values(track: m.Track) -> dict[str, object]:
    """A songs row of a Spotify track (its first artist is the song's artist)."""
    artist = track.artists[0]
    isrc = track.isrc
    return {
        "spotify_id": track.id,
        "isrc": isrc.upper() if isrc and len(isrc) <= 16 else None,
        "title": track.name[:512],
        "normalized_title": normalize_title(track.name)[:512],
        "artist_spotify_id": artist.id,
        "artist_name": artist.name[:512],
        "album_spotify_id": track.album.id,
        "album_name": _clip(track.album.name, 512),
        "release_date": _clip(track.album.release_date, 10),
        "duration_ms": track.duration_ms or None,
        "image_url": _clip(track.album.images[0].url if track.album.images else None, 1024),
    }
