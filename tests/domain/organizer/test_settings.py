"""Organizer settings: validation of the name pattern, storage on the scan-state row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from backbeat.db.engine import Database
from backbeat.db.models import OrganizerScanState, User
from backbeat.domain.organizer import (
    OrganizerSettings,
    enabled_user_ids,
    get_settings,
    parse_settings,
    put_settings,
    state,
)
from backbeat.errors import InvalidRequest, NotFound

CURSOR = datetime(2026, 10, 1, tzinfo=UTC)


def test_defaults() -> None:
    settings = OrganizerSettings()
    assert (settings.enabled, settings.by_language, settings.by_genre) == (True, True, True)
    assert settings.playlist_name("language", "es", "Spanish") == "Liked · Spanish"
    assert settings.kinds() == ("language", "genre")


@pytest.mark.parametrize(
    ("pattern", "name"),
    [
        ("{kind}: {name}", "Language: Spanish"),
        ("{name} ({key})", "Spanish (es)"),
        ("Sorted {{{key}}}", "Sorted {es}"),  # doubled braces are literal
        ("  {name}  ", "Spanish"),
    ],
)
def test_patterns_fill_in(pattern: str, name: str) -> None:
    settings = OrganizerSettings(name_pattern=pattern)
    assert settings.playlist_name("language", "es", "Spanish") == name


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("{title}", "unknown placeholder"),
        ("{0}", "unknown placeholder"),
        ("{}", "unknown placeholder"),
        ("{name.__class__}", "unknown placeholder"),
        ("{name[0]}", "unknown placeholder"),
        ("{name!r}", "no format spec or conversion"),
        ("{name:>500}", "no format spec or conversion"),
        ("{kind} playlist", "needs {name} or {key}"),
        ("Liked", "needs {name} or {key}"),
        ("{name", "not a name pattern"),
        ("name}", "not a name pattern"),
        ("", "at least 1 character"),
        ("{name}" + "x" * 100, "at most 100 characters"),
    ],
)
def test_bad_patterns_are_refused(pattern: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        OrganizerSettings(name_pattern=pattern)


def test_request_bodies_are_checked_field_by_field() -> None:
    assert parse_settings({"by_genre": False}) == OrganizerSettings(by_genre=False)
    with pytest.raises(InvalidRequest) as caught:
        parse_settings({"name_pattern": "{oops}"})
    assert caught.value.field == "name_pattern"
    with pytest.raises(InvalidRequest) as caught:
        parse_settings({"colour": "blue"})
    assert caught.value.field == "colour"
    with pytest.raises(InvalidRequest):
        parse_settings({"enabled": "maybe"})


def test_long_names_are_cut() -> None:
    settings = OrganizerSettings(name_pattern="{name} " + "·" * 90)
    assert len(settings.playlist_name("genre", "x" * 64, "x" * 64)) == 100


async def _user(database: Database, user_id: str, *, relogin: bool = False) -> None:
    async with database.sessions() as session, session.begin():
        session.add(User(id=user_id, spotify_id=user_id, needs_relogin=relogin))


async def test_stored_per_user(database: Database) -> None:
    await _user(database, "ann")
    await _user(database, "bob")
    assert await get_settings(database, "ann") == OrganizerSettings()
    mine = OrganizerSettings(by_genre=False, name_pattern="{kind}: {name}")
    assert await put_settings(database, "ann", mine) == mine
    assert await get_settings(database, "ann") == mine
    assert await get_settings(database, "bob") == OrganizerSettings()
    with pytest.raises(NotFound):
        await get_settings(database, "nobody")
    with pytest.raises(NotFound):
        await put_settings(database, "nobody", mine)


async def test_turning_a_kind_on_rewinds_the_cursor(database: Database) -> None:
    await _user(database, "ann")
    await put_settings(database, "ann", OrganizerSettings(by_genre=False))
    async with database.sessions() as session, session.begin():
        state = await session.get(OrganizerScanState, "ann")
        assert state is not None
        state.cursor_added_at = CURSOR

    async def cursor() -> datetime | None:
        async with database.sessions() as session:
            state = await session.get(OrganizerScanState, "ann")
            assert state is not None
            return state.cursor_added_at

    await put_settings(database, "ann", OrganizerSettings(by_genre=False, name_pattern="{key}"))
    assert await cursor() == CURSOR  # nothing new to sort into
    await put_settings(database, "ann", OrganizerSettings(by_language=False, by_genre=False))
    assert await cursor() == CURSOR
    await put_settings(database, "ann", OrganizerSettings())
    assert await cursor() is None


async def test_the_fan_out_takes_users_with_the_organizer_on(database: Database) -> None:
    for user in ("ann", "bob", "cat"):
        await _user(database, user)
    await _user(database, "dan", relogin=True)
    await put_settings(database, "bob", OrganizerSettings(enabled=False))
    await put_settings(database, "cat", OrganizerSettings(by_genre=False))
    assert await enabled_user_ids(database) == ["ann", "cat"]


async def test_a_rewind_during_a_scan_outlives_the_scan(database: Database) -> None:
    await _user(database, "ann")
    await put_settings(database, "ann", OrganizerSettings(by_genre=False))
    now = CURSOR + timedelta(days=1)
    assert await state.begin(database, "ann", now) is None
    await state.succeed(database, "ann", now, state.Finished(None, CURSOR, 5, 5, None))
    started = await state.begin(database, "ann", now)
    assert started == CURSOR
    await put_settings(database, "ann", OrganizerSettings())  # genres on: rewind
    later = state.Finished(started, CURSOR + timedelta(hours=1), 1, 1, None)
    await state.succeed(database, "ann", now, later)
    async with database.sessions() as session:
        row = await session.get(OrganizerScanState, "ann")
    assert row is not None
    assert (row.cursor_added_at, row.status, row.scanned_total) == (None, "idle", 6)
