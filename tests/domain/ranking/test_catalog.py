"""Gathering songs through the client against the in-process simulator: an artist album by
album (originals first, re-issues collapsed), albums by id, a user's playlist."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backbeat.clock import FakeClock
from backbeat.db.engine import Database
from backbeat.db.models import Song
from backbeat.domain.ranking.catalog import SongCatalog
from backbeat.domain.ranking.dedup import normalize_title
from backbeat.ratelimit import Priority
from backbeat.simulator.catalog import Catalog
from tests.spotify.stack_fixtures import consent, simulated_stack

SIM_USER = "user0002"
# What simulated_stack() generates: SimulatorSettings(artists=60, users=20), seed 42.
SIM_CATALOG = Catalog(42, 60)


def reissued_artist() -> str:
    """An artist with both a deluxe and a remastered edition in the simulator's catalog."""
    for artist_id, album_ids in SIM_CATALOG.artist_albums.items():
        editions = {SIM_CATALOG.albums[a].edition for a in album_ids}
        if {"deluxe", "remastered"} <= editions:
            return artist_id
    pytest.fail("the simulator's catalog has no artist with both editions")


async def stored(database: Database, song_ids: list[int]) -> list[Song]:
    async with database.sessions() as session:
        found = {s.id: s for s in await session.scalars(select(Song).where(Song.id.in_(song_ids)))}
    return [found[song_id] for song_id in song_ids]


async def test_an_artist_walk_yields_album_by_album_one_song_per_recording(
    database: Database,
) -> None:
    artist_id = reissued_artist()
    albums = SIM_CATALOG.artist_albums[artist_id]
    isrcs = {SIM_CATALOG.tracks[t].isrc for a in albums for t in SIM_CATALOG.albums[a].track_ids}
    async with simulated_stack() as (stack, _plain, _users):
        catalog = SongCatalog(database, stack.spotify)
        walked = [album async for album in catalog.walk_artist(artist_id, priority=Priority.LOW)]
    assert {album.album.id for album in walked} == set(albums)
    # Originals before their editions, albums before singles.
    kinds = [(a.album.album_type, SIM_CATALOG.albums[a.album.id].edition) for a in walked]
    originals = [
        i for i, (kind, edition) in enumerate(kinds) if edition is None and kind == "album"
    ]
    editions = [i for i, (_, edition) in enumerate(kinds) if edition is not None]
    assert max(originals) < min(editions)
    song_ids = [song_id for album in walked for song_id in album.song_ids]
    songs = await stored(database, song_ids)
    assert sorted(s.isrc or "" for s in songs) == sorted(isrcs)  # each recording once
    for song in songs:
        album = SIM_CATALOG.albums[song.album_spotify_id or ""]
        track = SIM_CATALOG.tracks[song.spotify_id]
        assert album.edition is None or track.isrc not in {
            SIM_CATALOG.tracks[t].isrc
            for t in SIM_CATALOG.albums[album.original_id or ""].track_ids
        }
        assert (song.title, song.artist_spotify_id) == (track.name, artist_id)
        assert song.normalized_title == normalize_title(track.name)
        assert song.release_date == album.release_date
        assert song.image_url
    # Editions bring only their bonus recordings.
    for album in walked:
        if SIM_CATALOG.albums[album.album.id].edition == "remastered":
            assert album.song_ids == []


async def test_albums_by_id_keep_the_original_release(database: Database) -> None:
    artist_id = reissued_artist()
    albums = [SIM_CATALOG.albums[a] for a in SIM_CATALOG.artist_albums[artist_id]]
    deluxe = next(a for a in albums if a.edition == "deluxe")
    original = SIM_CATALOG.albums[deluxe.original_id or ""]
    async with simulated_stack() as (stack, _plain, _users):
        catalog = SongCatalog(database, stack.spotify)
        song_ids = await catalog.from_albums([deluxe.id, original.id])
        again = await catalog.from_albums([original.id, deluxe.id])
    songs = await stored(database, song_ids)
    bonus = len(deluxe.track_ids) - len(original.track_ids)
    assert len(songs) == len(original.track_ids) + bonus
    assert sum(s.album_spotify_id == original.id for s in songs) == len(original.track_ids)
    assert sorted(again) == sorted(song_ids)  # stored once, found again


async def test_a_playlist_needs_the_user_and_gives_its_recordings(database: Database) -> None:
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, plain, users):
        await consent(plain, users, SIM_USER, clock)
        user = stack.user(SIM_USER, Priority.HIGH)
        playlist = (await user.playlists()).items[0]
        items = (await user.playlist_items(playlist.id, limit=100)).items
        catalog = SongCatalog(database, stack.spotify)
        song_ids = await catalog.from_playlist(user, playlist.id)
    songs = await stored(database, song_ids)
    tracks = {item.track.id for item in items if item.track is not None}
    assert songs
    assert {s.spotify_id for s in songs} <= tracks
    assert len({s.isrc for s in songs}) == len(songs)
