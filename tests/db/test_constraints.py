"""What the schema itself guarantees, on SQLite and Postgres alike (migrated to head)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from backbeat.db.engine import Database
from backbeat.db.models import (
    AppSession,
    BackgroundJob,
    Base,
    Comparison,
    GeneratedInsight,
    ListeningSnapshot,
    NaiveDatetimeError,
    OrganizerPlaylist,
    OrganizerPlaylistTrack,
    OrganizerScanState,
    RankingSession,
    SessionRanking,
    SessionSong,
    Song,
    SpotifyToken,
    User,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Rows of the whole app, not of one user: deleting a user leaves them.
SHARED_TABLES = ("users", "songs", "artist_leaderboards", "artist_leaderboard_entries")


async def _user(session: AsyncSession, spotify_id: str = "alice") -> User:
    user = User(spotify_id=spotify_id)
    session.add(user)
    await session.flush()
    return user


async def _counts(database: Database, tables: Sequence[Table]) -> dict[str, int]:
    async with database.sessions() as session:
        count = select(func.count())
        return {table.name: await session.scalar(count.select_from(table)) or 0 for table in tables}


def _snapshot(user: User, day: date, time_range: str = "short_term") -> ListeningSnapshot:
    return ListeningSnapshot(user_id=user.id, snapshot_date=day, time_range=time_range)


def _song(spotify_id: str) -> Song:
    return Song(
        spotify_id=spotify_id,
        title="S",
        normalized_title="s",
        artist_spotify_id="x",
        artist_name="X",
    )


def _job(user: User | None, status: str = "queued") -> BackgroundJob:
    key = f"ingest:{user.id}" if user else None
    return BackgroundJob(
        kind="ingest", queue="spotify", user_id=user and user.id, dedupe_key=key, status=status
    )


async def test_one_snapshot_per_user_day_and_time_range(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        user = await _user(session)
        session.add_all([_snapshot(user, date(2026, 3, 1)), _snapshot(user, date(2026, 3, 2))])
        session.add(_snapshot(user, date(2026, 3, 1), "long_term"))
    async with database.sessions() as session:
        session.add(_snapshot(user, date(2026, 3, 1)))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_one_active_job_per_dedupe_key_while_finished_ones_stay(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        user = await _user(session)
        session.add_all([_job(user, "succeeded"), _job(user, "failed"), _job(user, "queued")])
        session.add_all([_job(None), _job(None)])  # jobs without a key never block each other

    for status in ("queued", "running", "retrying", "deferred"):
        async with database.sessions() as session:
            session.add(_job(user, status))
            with pytest.raises(IntegrityError):
                await session.commit()

    # Once the active one finishes, the key is free again.
    async with database.sessions() as session, session.begin():
        finished = update(BackgroundJob).where(BackgroundJob.status == "queued")
        await session.execute(
            finished.where(BackgroundJob.user_id == user.id).values(status="succeeded")
        )
        session.add(_job(user, "queued"))
    async with database.sessions() as session:
        statuses = await session.scalars(
            select(BackgroundJob.status).where(BackgroundJob.user_id == user.id)
        )
        assert sorted(statuses) == ["failed", "queued", "succeeded", "succeeded"]


async def test_an_unknown_job_status_is_refused(database: Database) -> None:
    async with database.sessions() as session:
        session.add(_job(None, "lost"))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_deleting_a_user_deletes_all_their_rows(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        alice, bob = await _user(session, "alice"), await _user(session, "bob")
        for user in (alice, bob):
            snapshot = _snapshot(user, date(2026, 3, 1))
            ranking = RankingSession(user_id=user.id, name="all of it")
            playlist = OrganizerPlaylist(
                user_id=user.id, group_kind="language", group_key="es", name="es"
            )
            session.add_all([snapshot, ranking, playlist, _job(user)])
            session.add(
                SpotifyToken(user_id=user.id, access_token="a", refresh_token="r", expires_at=NOW)
            )
            session.add(OrganizerScanState(user_id=user.id, cursor_added_at=NOW))
            session.add(AppSession(user_id=user.id, kind="cookie", expires_at=NOW))
            await session.flush()
            session.add(
                GeneratedInsight(
                    user_id=user.id,
                    snapshot_id=snapshot.id,
                    insight_type="roast",
                    tone="dry",
                    provider="offline",
                    model="offline",
                    prompt_version="v1",
                    content={"text": "…"},
                )
            )
            session.add(
                OrganizerPlaylistTrack(
                    playlist_id=playlist.id, spotify_track_id=f"t-{user.spotify_id}"
                )
            )
            songs = [_song(f"{user.spotify_id}-{n}") for n in (1, 2)]
            session.add_all(songs)
            await session.flush()
            session.add_all([SessionSong(session_id=ranking.id, song_id=song.id) for song in songs])
            await session.flush()
            session.add(
                Comparison(session_id=ranking.id, winner_id=songs[0].id, loser_id=songs[1].id)
            )
            session.add(
                SessionRanking(session_id=ranking.id, song_id=songs[0].id, rank=1, score=1.0)
            )

    owned = [t for t in Base.metadata.sorted_tables if t.name not in SHARED_TABLES]
    before = await _counts(database, owned)
    async with database.sessions() as session, session.begin():
        await session.execute(delete(User).where(User.id == alice.id))
    after = await _counts(database, owned)
    # Alice and Bob had the same rows: exactly half of every table went with her.
    assert all(before[name] > 0 for name in before)
    assert {name: n * 2 for name, n in after.items()} == before
    songs_left = await _counts(database, [Base.metadata.tables["songs"]])
    assert songs_left == {"songs": 4}  # the shared catalog stays


async def test_a_comparison_needs_both_songs_in_its_session(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        user = await _user(session)
        ranking = RankingSession(user_id=user.id, name="r")
        songs = [_song("1"), _song("2")]
        session.add_all([ranking, *songs])
        await session.flush()
        session.add(SessionSong(session_id=ranking.id, song_id=songs[0].id))
    async with database.sessions() as session:
        session.add(Comparison(session_id=ranking.id, winner_id=songs[0].id, loser_id=songs[1].id))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_naive_datetimes_are_refused(database: Database) -> None:
    async with database.sessions() as session:
        session.add(BackgroundJob(kind="k", queue="q", run_at=datetime(2026, 3, 1, 12, 0)))
        with pytest.raises(StatementError) as raised:
            await session.commit()
        assert isinstance(raised.value.orig, NaiveDatetimeError)


async def test_timestamps_are_stored_in_utc_and_read_back_aware(database: Database) -> None:
    paris = timezone(timedelta(hours=1))
    async with database.sessions() as session, session.begin():
        job = BackgroundJob(
            kind="k",
            queue="q",
            run_at=datetime(2026, 3, 1, 13, 0, tzinfo=paris),
            payload={"ids": [1, 2], "nested": {"a": None}},
        )
        session.add(job)
    async with database.sessions() as session:
        stored = await session.get_one(BackgroundJob, job.id)
        assert stored.run_at == NOW
        assert stored.run_at.tzinfo is UTC
        assert stored.enqueued_at.tzinfo is UTC
        assert stored.payload == {"ids": [1, 2], "nested": {"a": None}}
        # Ordering and comparison in SQL see the same instant.
        due = await session.scalar(
            select(func.count()).select_from(BackgroundJob).where(BackgroundJob.run_at <= NOW)
        )
        assert due == 1
