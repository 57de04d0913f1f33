"""`OrganizerScan` against the in-process simulator, on SQLite and Postgres: every liked song in
exactly its playlists, read back through the Web API; re-runs, failures and new likes."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import delete, func, select

from backbeat.config import SimulatorSettings
from backbeat.db.engine import Database
from backbeat.db.models import OrganizerPlaylist, OrganizerPlaylistTrack, OrganizerScanState
from backbeat.domain.organizer import (
    DEVELOPMENT_NOTE,
    OrganizerSettings,
    TrackLanguage,
    put_settings,
    status,
)
from backbeat.errors import UpstreamError
from tests.domain.organizer.world import SIM_USER, World, organizer_world

ORGANIZER = "Liked · "


def organized(playlists: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    return {name: lists for name, lists in playlists.items() if name.startswith(ORGANIZER)}


async def assert_sorted(world: World, user: str = SIM_USER, **settings: bool) -> None:
    """Exactly one playlist per expected name, holding exactly its songs, each once."""
    expected = world.expected(user, TrackLanguage(), OrganizerSettings(**settings))
    found = organized(await world.playlists(user))
    assert set(found) == set(expected)
    for name, lists in found.items():
        assert len(lists) == 1, f"{name} exists {len(lists)} times"
        [tracks] = lists
        assert len(tracks) == len(set(tracks)), f"{name} holds a song twice"
        assert set(tracks) == expected[name], name


async def scan_state(database: Database, user: str = SIM_USER) -> OrganizerScanState:
    async with database.sessions() as session:
        state = await session.get(OrganizerScanState, user)
    assert state is not None
    return state


async def test_every_liked_song_lands_in_its_playlists_and_a_rerun_changes_nothing(
    database: Database,
) -> None:
    async with organizer_world(database) as world:
        await world.add_user()
        before = await world.playlists(SIM_USER)
        first = await world.scan.run(SIM_USER)
        await assert_sorted(world)
        liked = world.liked(SIM_USER)
        assert first.scanned == len(liked) == 209
        assert first.sorted == len(liked)  # every simulated song has a genre
        assert first.playlists_created == len(organized(await world.playlists(SIM_USER)))
        assert first.calls.read >= 5  # 209 songs: five pages
        assert first.calls.batch >= 1
        assert first.mode_note is None
        data = first.as_json()
        assert data["calls"]["read"] == first.calls.read
        assert data["cursor"] == max_liked_at(world).isoformat()

        second = await world.scan.run(SIM_USER)
        await assert_sorted(world)
        assert (second.added, second.playlists_created, second.scanned) == (0, 0, 0)
        after = await world.playlists(SIM_USER)
        # The user's own playlists are untouched.
        assert {k: v for k, v in after.items() if k not in organized(after)} == before

    state = await scan_state(database)
    assert state.status == "idle"
    assert state.cursor_added_at == max_liked_at(world)
    assert (state.scanned_total, state.consecutive_failures, state.last_error) == (209, 0, None)


def max_liked_at(world: World, user: str = SIM_USER) -> datetime:
    profile = world.sim.users.get(user)
    assert profile is not None
    return world.sim.likes.liked(profile)[0].at


async def test_a_failed_add_keeps_the_cursor_and_the_rerun_misses_nothing(
    database: Database,
) -> None:
    async with organizer_world(database) as world:
        await world.add_user()
        await world.fail("add_playlist_items", after=2)
        with pytest.raises(UpstreamError):
            await world.scan.run(SIM_USER)
        state = await scan_state(database)
        assert (state.status, state.cursor_added_at) == ("failed", None)
        assert state.consecutive_failures == 1
        assert state.last_error
        assert "add_playlist_items" in state.last_error
        async with database.sessions() as session:
            recorded = await session.scalar(
                select(func.count()).select_from(OrganizerPlaylistTrack)
            )
        assert 0 < (recorded or 0) < 209 * 2  # the two accepted requests, no more

        await world.heal()
        result = await world.scan.run(SIM_USER)
        await assert_sorted(world)
        assert result.playlists_created == 0  # made by the failed run, found by their rows
        assert result.scanned == 209
    state = await scan_state(database)
    assert (state.status, state.consecutive_failures) == ("idle", 0)
    assert state.cursor_added_at == max_liked_at(world)


async def test_a_failed_read_of_liked_songs_writes_nothing(database: Database) -> None:
    async with organizer_world(database) as world:
        await world.add_user()
        await world.fail("saved_tracks", after=2)
        with pytest.raises(UpstreamError):
            await world.scan.run(SIM_USER)
        assert organized(await world.playlists(SIM_USER)) == {}
        await world.heal()
        await world.scan.run(SIM_USER)
        await assert_sorted(world)


async def test_a_failed_create_makes_no_duplicate_on_the_rerun(database: Database) -> None:
    async with organizer_world(database) as world:
        await world.add_user()
        await world.fail("create_playlist", after=1)
        with pytest.raises(UpstreamError):
            await world.scan.run(SIM_USER)
        assert len(organized(await world.playlists(SIM_USER))) == 1
        await world.heal()
        result = await world.scan.run(SIM_USER)
        await assert_sorted(world)
        assert result.playlists_created == len(organized(await world.playlists(SIM_USER))) - 1


async def test_a_playlist_made_before_a_crash_is_found_by_name(database: Database) -> None:
    # The user's playlists are cached for a minute; the jobs' retries come minutes later.
    async with organizer_world(database, ttls={"my_playlists": 0}) as world:
        await world.add_user()
        await world.scan.run(SIM_USER)
        # Forget one playlist's Spotify id, as a crash between creating and storing it would,
        # and every record of adds, as a crash after Spotify took them would; sort it all again.
        async with database.sessions() as session, session.begin():
            row = await session.scalar(
                select(OrganizerPlaylist).where(OrganizerPlaylist.group_key == "en")
            )
            assert row is not None
            row.spotify_playlist_id = None
            await session.execute(delete(OrganizerPlaylistTrack))
            state = await session.get(OrganizerScanState, SIM_USER)
            assert state is not None
            state.cursor_added_at = None
        result = await world.scan.run(SIM_USER)
        assert (result.playlists_created, result.added) == (0, 0)
        assert result.already_there == 209 * 2  # found in the playlists' items instead
        await assert_sorted(world)


async def test_songs_liked_after_a_scan_are_sorted_by_the_next(database: Database) -> None:
    # Liked songs are cached for a minute by default; this test re-reads them at once.
    async with organizer_world(database, ttls={"saved_tracks": 0}) as world:
        await world.add_user()
        await world.scan.run(SIM_USER)
        first_cursor = (await scan_state(database)).cursor_added_at
        liked = set(world.liked(SIM_USER))
        fresh = [t for t in world.sim.catalog.track_ids if t not in liked][:120]
        assert await world.like(SIM_USER, fresh[:60]) == fresh[:60]

        # A failed write: the cursor stays, the songs are not lost.
        await world.fail("add_playlist_items", after=1)
        with pytest.raises(UpstreamError):
            await world.scan.run(SIM_USER)
        assert (await scan_state(database)).cursor_added_at == first_cursor
        await world.heal()

        await world.like(SIM_USER, fresh[60:])
        result = await world.scan.run(SIM_USER)
        assert result.scanned == 120
        await assert_sorted(world)
        state = await scan_state(database)
        assert state.cursor_added_at == max_liked_at(world)
        assert state.cursor_added_at is not None
        assert first_cursor is not None
        assert state.cursor_added_at > first_cursor
        assert state.scanned_total == 209 + 120
        assert (await world.scan.run(SIM_USER)).added == 0


async def test_settings_choose_the_playlists_and_their_names(database: Database) -> None:
    async with organizer_world(database) as world:
        await world.add_user()
        only_languages = OrganizerSettings(by_genre=False, name_pattern="{kind}: {name}")
        await put_settings(database, SIM_USER, only_languages)
        result = await world.scan.run(SIM_USER)
        names = set(await world.playlists(SIM_USER))
        assert {"Language: Italian", "Language: English"} <= names
        assert not any(name.startswith("Genre") for name in names)
        assert result.calls.batch == 0  # no genres, no artists

        await put_settings(database, SIM_USER, OrganizerSettings(enabled=False))
        off = await world.scan.run(SIM_USER)
        assert off.outcome == "disabled"


async def test_turning_genres_on_sorts_the_whole_library_into_them(database: Database) -> None:
    async with organizer_world(database) as world:
        await world.add_user()
        await put_settings(database, SIM_USER, OrganizerSettings(by_genre=False))
        await world.scan.run(SIM_USER)
        await put_settings(database, SIM_USER, OrganizerSettings())
        result = await world.scan.run(SIM_USER)
        assert result.scanned == 209
        await assert_sorted(world)


async def test_development_mode_works_and_says_what_it_costs(database: Database) -> None:
    simulator = SimulatorSettings(artists=60, users=20, mode="development")
    async with organizer_world(database, simulator) as world:
        await world.add_user()
        result = await world.scan.run(SIM_USER)
        await assert_sorted(world)
    assert result.mode_note == DEVELOPMENT_NOTE
    assert result.calls.batch == 0
    assert result.calls.read > 20  # artists one by one
    now = datetime.fromisoformat("2026-11-02T03:00:00+00:00")
    report = await status(database, SIM_USER, now=now)
    assert report.mode_note == DEVELOPMENT_NOTE


async def test_status_shows_the_last_scan_and_the_playlists(database: Database) -> None:
    async with organizer_world(database) as world:
        await world.add_user()
        now = datetime.fromisoformat("2026-11-02T03:00:00+00:00")
        assert (await status(database, SIM_USER, now=now)).status == "never"
        await world.scan.run(SIM_USER)
        found = organized(await world.playlists(SIM_USER))
    report = await status(database, SIM_USER, now=now, cron="0 2 * * *")
    assert report.status == "idle"
    assert report.scanned_total == report.last_scan_count == 209
    assert report.next_run_at == datetime.fromisoformat("2026-11-03T02:00:00+00:00")
    counts = {p.name: p.track_count for p in report.playlists}
    assert counts == {name: len(lists[0]) for name, lists in found.items()}
    data = report.as_json()
    assert data["playlists"]
    assert data["next_run_at"] == "2026-11-03T02:00:00+00:00"
