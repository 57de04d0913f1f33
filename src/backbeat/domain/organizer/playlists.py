"""The target playlists: found or created without ever making two, and filled without ever
adding a song twice.

Finding: each (kind, key) has one `organizer_playlists` row, written before the Spotify playlist
is created. A row holding a Spotify id is trusted as it is, even when the user's playlist list
does not show it: that list may be a cached read from before the playlist was made, and a
playlist the user removed from their library is theirs to remove (adds to it do no harm). A row
without an id (first use, or a crash between creating the playlist and storing its id) is matched
by name against ALL pages of the user's playlists — any read error ends the scan before anything
is created — and only then is a playlist created and its id stored at once.

Filling: songs recorded in `organizer_playlist_tracks` are skipped; the rest are checked against
the playlist's items (a crash after Spotify took an add but before it was recorded), then added
100 a request, each request recorded only after Spotify accepted it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update

from backbeat.db.engine import Database
from backbeat.db.models import OrganizerPlaylist, OrganizerPlaylistTrack
from backbeat.db.upsert import upsert
from backbeat.domain.organizer.groups import Group, group_of
from backbeat.spotify import models as m
from backbeat.spotify.user import MAX_ADD_ITEMS, SpotifyUser
from backbeat.upstream.batch import pages

DESCRIPTION = "Your liked songs, sorted by backbeat."
KEY = ("user_id", "group_kind", "group_key")


@dataclass
class Calls:
    """Upstream calls a scan asked for, by operation class (before cache hits and retries)."""

    read: int = 0
    write: int = 0
    batch: int = 0


@dataclass(frozen=True, slots=True)
class Target:
    row_id: int
    spotify_id: str
    new: bool  # created by this scan: empty, so its items need no reading


@dataclass
class Filled:
    added: set[str] = field(default_factory=set)  # track ids this scan added
    already_there: set[str] = field(default_factory=set)  # found in the playlist, recorded now


def _uri(track: m.Track) -> str:
    return track.uri or f"spotify:track:{track.id}"


class PlaylistSync:
    def __init__(
        self,
        database: Database,
        spotify: SpotifyUser,
        *,
        user_id: str,
        owner_id: str,
        now: Callable[[], datetime],
        calls: Calls,
    ) -> None:
        """`user_id`: backbeat's user; `owner_id`: their Spotify id (owner of their playlists)."""
        self.database = database
        self.spotify = spotify
        self.user_id = user_id
        self.owner_id = owner_id
        self.now = now
        self.calls = calls
        self.created = 0

    async def targets(self, names: Mapping[Group, str]) -> dict[Group, Target]:
        """A Spotify playlist for every group, found or created."""
        rows = await self._rows(names)
        missing = [group for group in names if rows[group].spotify_playlist_id is None]
        adopted = await self._by_name(
            {group: rows[group].name for group in missing},
            taken={row.spotify_playlist_id for row in rows.values()},
        )
        found = {
            group: Target(row.id, row.spotify_playlist_id, new=False)
            for group, row in rows.items()
            if row.spotify_playlist_id is not None
        }
        for group in missing:
            if group in adopted:
                spotify_id, new = adopted[group], False
            else:
                self.calls.write += 1
                created = await self.spotify.create_playlist(
                    rows[group].name, description=DESCRIPTION, public=False
                )
                spotify_id, new = created.id, True
                self.created += 1
            await self._store_id(rows[group].id, spotify_id)
            found[group] = Target(rows[group].id, spotify_id, new=new)
        return found

    async def _rows(self, names: Mapping[Group, str]) -> dict[Group, OrganizerPlaylist]:
        now = self.now()
        async with self.database.sessions() as session, session.begin():
            query = select(OrganizerPlaylist).where(OrganizerPlaylist.user_id == self.user_id)
            existing = {group_of(row): row for row in await session.scalars(query)}
            for group, name in names.items():
                if group not in existing:
                    values = {"user_id": self.user_id, "group_kind": group.kind,
                              "group_key": group.key, "name": name, "track_count": 0,
                              "created_at": now, "updated_at": now}  # fmt: skip
                    # A concurrent scan's row wins; this one is then read back below.
                    await upsert(session, OrganizerPlaylist, values, key=KEY, update=["updated_at"])
            rows = {group_of(row): row for row in await session.scalars(query)}
        return {group: rows[group] for group in names}

    async def _by_name(
        self, names: Mapping[Group, str], *, taken: set[str | None]
    ) -> dict[Group, str]:
        """Playlists of the user's own with a row's name and no row of theirs: made by a scan
        that crashed before storing the id. The newest such playlist is the likeliest."""
        if not names:
            return {}
        listed: list[m.PlaylistRef] = []

        async def fetch(limit: int, offset: int) -> m.Page[m.PlaylistRef]:
            self.calls.read += 1
            return await self.spotify.playlists(limit=limit, offset=offset)

        async for items in pages(fetch):
            listed.extend(items)
        adopted: dict[Group, str] = {}
        for group, name in names.items():
            for playlist in listed:  # newest first, as Spotify lists them
                ours = playlist.owner.id == self.owner_id and playlist.name == name
                if ours and playlist.id not in taken:
                    adopted[group] = playlist.id
                    taken.add(playlist.id)
                    break
        return adopted

    async def _store_id(self, row_id: int, spotify_id: str) -> None:
        async with self.database.sessions() as session, session.begin():
            await session.execute(
                update(OrganizerPlaylist)
                .where(OrganizerPlaylist.id == row_id)
                .values(spotify_playlist_id=spotify_id, updated_at=self.now())
            )

    async def fill(self, target: Target, tracks: Sequence[m.Track]) -> Filled:
        """Add the tracks not yet in the playlist, in the order given."""
        filled = Filled()
        async with self.database.sessions() as session:
            query = select(OrganizerPlaylistTrack.spotify_track_id).where(
                OrganizerPlaylistTrack.playlist_id == target.row_id
            )
            recorded = set(await session.scalars(query))
        wanted = list({t.id: t for t in tracks if t.id not in recorded}.values())
        if wanted and not target.new:
            present = await self._items(target.spotify_id)
            there = [t for t in wanted if t.id in present]
            await self._record(target.row_id, there)
            filled.already_there.update(t.id for t in there)
            wanted = [t for t in wanted if t.id not in present]
        for start in range(0, len(wanted), MAX_ADD_ITEMS):
            chunk = wanted[start : start + MAX_ADD_ITEMS]
            self.calls.write += 1
            await self.spotify.add_items(target.spotify_id, [_uri(t) for t in chunk])
            await self._record(target.row_id, chunk)  # only once Spotify took them
            filled.added.update(t.id for t in chunk)
        return filled

    async def _items(self, spotify_id: str) -> set[str]:
        present: set[str] = set()

        async def fetch(limit: int, offset: int) -> m.Page[m.PlaylistItem]:
            self.calls.read += 1
            return await self.spotify.playlist_items(spotify_id, limit=limit, offset=offset)

        async for items in pages(fetch, limit=MAX_ADD_ITEMS):
            present.update(item.track.id for item in items if item.track is not None)
        return present

    async def _record(self, row_id: int, tracks: Sequence[m.Track]) -> None:
        if not tracks:
            return
        now = self.now()
        rows = [{"playlist_id": row_id, "spotify_track_id": t.id, "added_at": now} for t in tracks]
        async with self.database.sessions() as session, session.begin():
            # One bulk INSERT: ORM objects cost a busy worker more CPU than the add call.
            await session.execute(insert(OrganizerPlaylistTrack), rows)
            await session.execute(
                update(OrganizerPlaylist)
                .where(OrganizerPlaylist.id == row_id)
                .values(track_count=OrganizerPlaylist.track_count + len(tracks), updated_at=now)
            )
