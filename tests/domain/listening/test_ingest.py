"""`ingest_snapshot` against the in-process simulator, on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.db.engine import Database
from backbeat.db.models import ListeningSnapshot, User
from backbeat.domain.listening import FEATURES, Mood, ingest_snapshot
from backbeat.spotify.user import TimeRange
from tests.spotify.stack_fixtures import consent, simulated_stack

SIM_USER = "user0003"
DAY = date(2026, 11, 2)


async def add_user(database: Database) -> str:
    async with database.sessions() as session, session.begin():
        user = User(spotify_id=SIM_USER)
        session.add(user)
    return user.id


async def snapshots(database: Database) -> list[ListeningSnapshot]:
    async with database.sessions() as session:
        found = await session.scalars(
            select(ListeningSnapshot).order_by(
                ListeningSnapshot.snapshot_date, ListeningSnapshot.time_range
            )
        )
        return list(found)


async def test_a_snapshot_with_sane_numbers(database: Database) -> None:
    user_id = await add_user(database)
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, plain, users):
        await consent(plain, users, SIM_USER, clock)
        now = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
        snapshot_id = await ingest_snapshot(
            database,
            stack.user(SIM_USER),
            stack.spotify,
            user_id=user_id,
            time_range="short_term",
            today=DAY,
            now=now,
        )
        stats = (await plain.get("/_sim/stats")).json()["apps"]["backbeat-dev"]
    assert stats["http_429"] == 0
    [row] = await snapshots(database)
    assert row.id == snapshot_id
    assert (row.user_id, row.snapshot_date, row.time_range) == (user_id, DAY, "short_term")
    assert row.updated_at == now
    assert 0 < row.track_count <= 50
    assert len(row.top_track_ids) == row.track_count
    assert row.top_artist_ids
    assert row.features_source == "spotify"
    assert set(row.audio_features) == set(FEATURES)
    energy = row.audio_features["energy"]
    assert energy["count"] == row.track_count  # the simulator describes every track
    assert 0.0 <= energy["min"] <= energy["mean"] <= energy["max"] <= 1.0
    assert row.genres
    assert all(isinstance(n, int) and n > 0 for n in row.genres.values())
    moods = row.mood_patterns
    assert set(moods["counts"]) == {str(m) for m in Mood}
    assert sum(moods["shares"].values()) == pytest.approx(1.0)
    assert sum(moods["by_hour"]["plays"]) == 50  # one page of recently played
    for score in (row.genre_diversity, row.artist_diversity, row.mood_diversity):
        assert score is not None
        assert 0.0 <= score <= 1.0


async def test_the_same_day_replaces_another_day_or_range_adds(database: Database) -> None:
    user_id = await add_user(database)
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, plain, users):
        await consent(plain, users, SIM_USER, clock)
        me = stack.user(SIM_USER)

        async def ingest(day: date, time_range: TimeRange, hour: int = 3) -> str:
            return await ingest_snapshot(
                database,
                me,
                stack.spotify,
                user_id=user_id,
                time_range=time_range,
                today=day,
                now=datetime(2026, 11, 2, hour, tzinfo=UTC),
            )

        first = await ingest(DAY, "short_term")
        [before] = await snapshots(database)
        async with database.sessions() as session, session.begin():  # a stale row to replace
            await session.execute(
                update(ListeningSnapshot).values(track_count=0, genres={}, mood_diversity=None)
            )
        again = await ingest(DAY, "short_term", hour=4)
        [after] = await snapshots(database)
        assert again == first
        assert after.created_at == before.created_at
        assert after.updated_at == datetime(2026, 11, 2, 4, tzinfo=UTC)
        assert (after.track_count, after.genres) == (before.track_count, before.genres)
        assert after.mood_diversity == before.mood_diversity

        next_day = await ingest(date(2026, 11, 3), "short_term")
        long_term = await ingest(DAY, "long_term")
    assert len({first, next_day, long_term}) == 3
    rows = await snapshots(database)
    assert [(r.snapshot_date, r.time_range) for r in rows] == [
        (DAY, "long_term"),
        (DAY, "short_term"),
        (date(2026, 11, 3), "short_term"),
    ]
    assert rows[1].id == first


async def test_development_mode_takes_features_from_reccobeats(database: Database) -> None:
    user_id = await add_user(database)
    clock = FakeClock()
    development = SimulatorSettings(artists=60, users=20, mode="development")
    async with simulated_stack(development, clock=clock) as (stack, plain, users):
        await consent(plain, users, SIM_USER, clock)
        await ingest_snapshot(
            database,
            stack.user(SIM_USER),
            stack.spotify,
            user_id=user_id,
            time_range="medium_term",
            today=DAY,
        )
        apps = (await plain.get("/_sim/stats")).json()["apps"]
    [row] = await snapshots(database)
    assert row.features_source == "reccobeats"
    assert row.audio_features["valence"]["count"] == row.track_count
    assert row.genres  # artists beyond the top artists came one by one (no batch gets)
    assert apps["reccobeats"]["successes"] >= row.track_count
    assert apps["backbeat-dev"]["http_429"] == 0
